#!/bin/sh
# SPDX-License-Identifier: MIT
# The libFuzzer targets, built with clang (-fsanitize=fuzzer,address,undefined,
# -fno-sanitize-recover) whatever compiler the meson build uses:
#   fw-run  tests/firmware/fuzz_run.c: command streams run to completion by
#           the firmware on a fake device (corpus tests/firmware/fuzz/corpus)
#   gguf    tests/runtime/fuzz/fuzz_gguf.c: GGUF files through the parser,
#           tokenizer and model loader (corpus tests/runtime/fuzz/corpus)
#
#   libfuzzer.sh build TARGET OUT      build OUT, unless OUT.key says it was
#                                      built from the same sources and flags
#   libfuzzer.sh ci TARGET DIR SECS    build DIR/TARGET and fuzz it for SECS
#                                      seconds from the in-tree corpus (new
#                                      inputs go to a temporary directory;
#                                      crash reproducers to DIR/TARGET-crashes)
#   libfuzzer.sh grow TARGET SECS [DIR] the same, then merge (-merge=1) the
#                                      new inputs into the in-tree corpus
#                                      (fw-run: the corpus is minimized anew)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
	echo "usage: $0 build TARGET OUT | ci TARGET DIR SECONDS | grow TARGET SECONDS [DIR]  (TARGET: fw-run or gguf)" >&2
	exit 2
}

# Sets srcs (relative to root), cflags, libs, hashed (dirs whose .c/.h
# files make up the key), corpus, maxlen, replay (the meson-built replayer).
target() {
	case "$1" in
	fw-run)
		srcs="tests/firmware/fuzz_run.c tests/firmware/fake_hal.c $(cd "$root" && echo firmware/src/*.c firmware/kernels/*.c)"
		cflags="-Ifirmware/include -Ifirmware/src -Iuapi -Iuapi/drm -Itests/firmware $(pkg-config --cflags libdrm) -DEMBER_FW_BUILD_ID=0 -DEMBER_FW_VERSION_STR=\"fuzz\""
		libs="-lm -lpthread"
		hashed="tests/firmware firmware uapi"
		# EK_ISA_MAX=0/1/2 in the environment: the portable, AVX2 or
		# AVX-512 kernels on a host that has better
		[ -z "${EK_ISA_MAX:-}" ] || cflags="$cflags -DEK_ISA_MAX=$EK_ISA_MAX"
		corpus=tests/firmware/fuzz/corpus
		maxlen=512
		# grow keeps a corpus minimized over edges (a few hundred inputs)
		minimize=-use_counters=0
		replay="tests/firmware/fw-fuzz-run-replay"
		;;
	gguf)
		s=runtime/src
		srcs="tests/runtime/fuzz/fuzz_gguf.c $(cd "$root" && echo $s/*.c $s/*/*.c lib/src/*.c firmware/kernels/*.c)"
		cflags="-I$s -I$s/model -I$s/tokenizer -I$s/cpu -I$s/npu -Iruntime/include -Ifirmware/include -Ilib/include -Iuapi -Iuapi/drm $(pkg-config --cflags libdrm liburing)"
		libs="$(pkg-config --libs libdrm liburing) -lm -lpthread"
		hashed="tests/runtime/fuzz runtime lib firmware/kernels firmware/include uapi"
		corpus=tests/runtime/fuzz/corpus
		maxlen=65536
		minimize=
		replay="tests/runtime/test-rt-fuzz-replay"
		;;
	*)
		usage
		;;
	esac
	# clang 14 spends over 10 minutes on attention_avx512.c at -O1 with the
	# sanitizers, 4 s at -O0: that file is built at -O0 (still instrumented)
	slow="firmware/kernels/attention_avx512.c"
	cflags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $cflags"
}

build() {	# TARGET OUT
	out=$(realpath -m "$2")
	command -v clang >/dev/null 2>&1 || {
		echo "libfuzzer: clang is not installed: apt-get install clang libclang-rt-14-dev (scripts/install-deps.sh installs both)" >&2
		exit 1
	}
	target "$1"
	key=$(cd "$root" && { echo "$cflags $libs $slow"; clang --version;
		find $hashed -name '*.[ch]' | LC_ALL=C sort | xargs cat; } |
		sha256sum | cut -c1-32)
	if [ -x "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	echo "libfuzzer: building $1 with clang into $out"
	mkdir -p "$(dirname "$out")"
	rm -rf "$out.objs" "$out.key"
	mkdir "$out.objs"
	export cflags slow objs="$out.objs"
	# one clang per source, on every core
	(cd "$root" && printf '%s\n' $srcs | xargs -P "$(nproc)" -I{} sh -c '
		o=; case " $slow " in *" $1 "*) o=-O0;; esac
		clang $cflags $o -c "$1" -o "$objs/$(echo "$1" | tr / _).o"' sh {}) || {
		echo "libfuzzer: compiling $1 failed (above); if the error is about libFuzzer or the sanitizer runtimes: apt-get install clang libclang-rt-14-dev" >&2
		exit 1
	}
	clang $cflags "$out.objs"/*.o $libs -o "$out.tmp" || {
		echo "libfuzzer: linking $1 failed (above); if -lclang_rt.fuzzer is missing: apt-get install libclang-rt-14-dev" >&2
		exit 1
	}
	mv "$out.tmp" "$out"
	rm -rf "$out.objs"
	echo "$key" > "$out.key"
}

# Fuzz TARGET's binary BIN for SECS seconds from the corpus into NEW.
fuzz() {	# TARGET BIN SECS NEW CRASHDIR
	mkdir -p "$5"
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	EMBER_FUZZ_STATS=1 \
	"$2" -max_total_time="$3" -timeout=30 -max_len="$maxlen" \
		-print_final_stats=1 -artifact_prefix="$5/" "$4" "$root/$corpus" && return 0
	echo "libfuzzer: $1 FAILED: a sanitizer report, a broken check or a slow input (above)." >&2
	for f in "$5"/*; do
		[ -f "$f" ] || continue
		echo "  reproducer: $f" >&2
		echo "  reproduce:  $2 $f" >&2
		echo "  or without clang: <build>/$replay $f" >&2
	done
	echo "  after the fix, copy the reproducer into $corpus/ so every test run replays it" >&2
	return 1
}

[ $# -ge 3 ] || usage
case "$1" in
build)
	build "$2" "$3"
	;;
ci)
	[ $# -eq 4 ] || usage
	build "$2" "$3/$2"
	work=$(mktemp -d "${TMPDIR:-/tmp}/ember-fuzz-$2.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	rm -rf "$3/$2-crashes"
	start=$(date +%s)
	fuzz "$2" "$3/$2" "$4" "$work" "$3/$2-crashes"
	echo "libfuzzer: $2 ran $(($(date +%s) - start)) s from $(ls "$root/$corpus" | wc -l) corpus inputs; $(ls "$work" | wc -l) new inputs (not kept: grow the corpus with 'tests/fuzz/libfuzzer.sh grow $2 SECONDS')"
	;;
grow)
	dir=${4:-/tmp/ember-fuzz}
	build "$2" "$dir/$2"
	mkdir -p "$dir/$2-new"
	fuzz "$2" "$dir/$2" "$3" "$dir/$2-new" "$dir/$2-crashes"
	if [ -n "$minimize" ]; then
		# the fewest inputs that keep every edge of corpus + new ones
		rm -rf "$dir/$2-min"
		mkdir "$dir/$2-min"
		"$dir/$2" -merge=1 $minimize -max_len="$maxlen" "$dir/$2-min" \
			"$root/$corpus" "$dir/$2-new"
		rm -f "$root/$corpus"/*
		cp "$dir/$2-min"/* "$root/$corpus/"
	else
		"$dir/$2" -merge=1 -max_len="$maxlen" "$root/$corpus" "$dir/$2-new"
	fi
	echo "libfuzzer: $corpus has $(ls "$root/$corpus" | wc -l) inputs"
	;;
*)
	usage
	;;
esac
