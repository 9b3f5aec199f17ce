#!/usr/bin/env bash
# Builds llama.cpp's llama-bench and llama-quantize, the reference that
# ember-bench and the interop tests measure and convert with, from the source
# bundle that the pinned node-llama-cpp package carries (the same llama.cpp
# as its prebuilt libraries). Prints the directory holding the binaries.
#
#   scripts/build-llama-cpp.sh [BUNDLE]
#
# BUNDLE defaults to the one in node-llama-cpp as scripts/lib/node-llama-cpp.sh
# installs it. The build is cached in $EMBER_CACHE/llama.cpp/KEY, KEY hashing
# the bundle's commit, the CPU variants, the compiler and this script.
#
# The strongest llama.cpp that runs here: ggml's CPU backend built for this
# CPU (GGML_NATIVE, every instruction set it has, AMX included), as a
# llama.cpp built on the machine it benchmarks on would be. (node-llama-cpp's
# prebuilt instead ships fourteen variants and loads the best that fits;
# building all of them here takes ~14x as long for the same code on this
# CPU.) If the AMX build dies on this host (a VM whose CPUID shows AMX but
# does not enable it), it is rebuilt without AMX, and the script says so.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

bundle=${1:-}
if [ -z "$bundle" ]; then
	npm_dir=$(sh "$EMBER_ROOT/scripts/lib/node-llama-cpp.sh") ||
		die "node-llama-cpp is not installed (scripts/lib/node-llama-cpp.sh failed); pass a bundle"
	bundle=$npm_dir/node_modules/node-llama-cpp/llama/gitRelease.bundle
fi
[ -f "$bundle" ] || die "no llama.cpp source bundle at $bundle"
command -v cmake >/dev/null || die "cmake is missing: run scripts/install-deps.sh"

commit=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1; exit }')
[ -n "$commit" ] || die "$bundle has no HEAD: not a llama.cpp release bundle"

flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
key=$( { echo "$commit"; echo "$flags"; gcc --version | head -n1
	 cmake --version | head -n1; cat "$0"; } | sha256sum | cut -c1-16)
out=$EMBER_CACHE/llama.cpp/$key
# one build at a time (the interop tests run in parallel); the second
# caller finds the first one's result
mkdir -p "$EMBER_CACHE/llama.cpp"
exec 9>"$EMBER_CACHE/llama.cpp/.lock"
flock 9
if [ -x "$out/llama-bench" ] && [ -f "$out/build-info" ]; then
	echo "$out"
	exit 0
fi

smoke=$(realpath -m "$EMBER_ROOT/../shared/models/stories260K.gguf")
[ -f "$smoke" ] || die "no $smoke to smoke-test llama.cpp with (shared/ beside the clone)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ember-llama.XXXXXX")
trap 'rm -rf "$work"' EXIT
git -c advice.detachedHead=false clone -q "$bundle" "$work/src"
git -C "$work/src" -c advice.detachedHead=false checkout -q "$commit"

# build NAME EXTRA_FLAGS: llama-bench and llama-quantize in $work/NAME
build() {
	note "building llama.cpp ${commit:0:12} for this CPU ($1) into $out"
	cmake -S "$work/src" -B "$work/$1" -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF \
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
		-DLLAMA_BUILD_EXAMPLES=OFF -DCMAKE_C_FLAGS="$2" \
		-DCMAKE_CXX_FLAGS="$2" >"$work/$1.log" 2>&1 &&
	cmake --build "$work/$1" -j "$(nproc)" --target llama-bench llama-quantize \
		>>"$work/$1.log" 2>&1 ||
		{ tail -n 40 "$work/$1.log" >&2; die "building llama.cpp ($1) failed (log above)"; }
}
# smoke NAME: a prefill (the batched path, where AMX runs) and a decode
smoke() {
	timeout 300 "$work/$1/bin/llama-bench" -m "$smoke" -p 64 -n 4 -r 1 -t 1 \
		>"$work/$1.smoke" 2>&1
}
variant=native
build native ""
if ! smoke native; then
	[[ "$flags" == *" amx_tile "* ]] ||
		{ cat "$work/native.smoke" >&2; die "llama-bench fails on $smoke (output above)"; }
	note "llama-bench built with AMX dies on this host; building it without AMX"
	variant=native-no-amx
	build "$variant" "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
	smoke "$variant" || { cat "$work/$variant.smoke" >&2; die "llama-bench fails without AMX too"; }
fi

mkdir -p "$EMBER_CACHE/llama.cpp"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$work/$variant/bin/llama-bench" "$work/$variant/bin/llama-quantize" "$out.tmp/"
{ echo "commit $commit"; echo "build $variant (GGML_NATIVE)"; echo "cpu $cpu"; } > "$out.tmp/build-info"
rm -rf "$out"
mv "$out.tmp" "$out"
note "llama.cpp ready: $out ($variant)"
echo "$out"
