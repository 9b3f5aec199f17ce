#!/usr/bin/env bash
# Stages the host build's guest tests (built with ASan + UBSan, dynamically
# linked) for the guest, which has no shared libraries of its own: the
# binaries, libember, and every library ldd names, plus a runner that runs
# each (but ember-leak-test) and the ioctl fuzzer with FUZZ_CALLS calls.
#   scripts/lib/guest-asan-stage.sh BUILD_DIR STAGE_DIR FUZZ_CALLS
# In the guest: sh STAGE/run-all.sh (STAGE at /opt/ember/asan).
set -euo pipefail
build=$1 stage=$2 calls=$3
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
mapfile -t tests < <(find "$build/tests/guest" -maxdepth 1 -type f -perm -u+x -name 'ember-*' | LC_ALL=C sort)
[ ${#tests[@]} -gt 0 ] || { echo "guest-asan-stage: no guest tests in $build/tests/guest" >&2; exit 1; }
for t in "${tests[@]}"; do
	cp "$t" "$stage/bin/"
	# the libraries and the loader, resolved on the host (same Debian)
	ldd "$t" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$stage/lib/"
done
ldso=$(ldd "${tests[0]}" | awk '/ld-linux/ { print ($3 ? $3 : $1); exit }')
[ -n "$ldso" ] || { echo "guest-asan-stage: no dynamic loader in ldd's output" >&2; exit 1; }
{
	echo '#!/bin/sh'
	echo 'here=/opt/ember/asan'
	# the loader where the binaries expect it; libraries by LD_LIBRARY_PATH
	echo "mkdir -p $(dirname "$ldso") && cp \$here/lib/$(basename "$ldso") $ldso"
	echo 'export LD_LIBRARY_PATH=$here/lib'
	echo 'export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1'
	echo 'export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1'
	for t in "${tests[@]}"; do
		n=${t##*/}
		args=
		case $n in
		# it counts the guest's MemAvailable, which ASan's quarantine and
		# shadow move by tens of MiB: the plain build runs it
		ember-leak-test) continue ;;
		ember-ioctl-fuzz) args="--calls $calls" ;;
		esac
		echo "echo '@@EMBER-TEST-BEGIN $n'"
		echo "timeout ${EMBER_GUEST_TEST_TIMEOUT:-900} \$here/bin/$n $args; rc=\$?"
		echo "echo; echo \"@@EMBER-TEST-END $n rc=\$rc\""
	done
	echo "echo @@EMBER-RUN-ALL-DONE"
} > "$stage/run-all.sh"
