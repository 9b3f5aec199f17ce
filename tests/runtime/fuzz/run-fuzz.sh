#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the GGUF fuzz target with clang + libFuzzer (ASan/UBSan) and runs it.
#   tests/runtime/fuzz/run-fuzz.sh [SECONDS] [BUILD_DIR]
# New interesting inputs are merged into tests/runtime/fuzz/corpus/ (keep
# them: the 'runtime-fuzz-corpus' meson test replays the corpus), crashes
# are written to BUILD_DIR/crash-*.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${2:-/tmp/ember-fuzz}
mkdir -p "$out/new"
command -v clang >/dev/null || { echo "clang is needed (apt-get install clang)"; exit 1; }
src="$root/runtime/src"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -std=gnu11 -I"$src" -I"$root/runtime/include" -I"$root/firmware/include" \
	"$here/fuzz_gguf.c" "$src"/*.c "$root"/firmware/kernels/*.c -lm -lpthread \
	-o "$out/fuzz_gguf"
cd "$out"
./fuzz_gguf -max_total_time="$secs" -max_len=65536 -timeout=10 new "$here/corpus"
./fuzz_gguf -merge=1 "$here/corpus" new
