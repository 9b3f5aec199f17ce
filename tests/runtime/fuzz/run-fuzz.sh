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
# the whole runtime (its src/ subfolders by concern) and libember, which the
# NPU backend links
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -std=gnu11 -I"$src" -I"$src/model" -I"$src/tokenizer" -I"$src/cpu" \
	-I"$root/runtime/include" -I"$root/firmware/include" -I"$root/lib/include" \
	-I"$root/uapi" -I"$root/uapi/drm" $(pkg-config --cflags libdrm liburing) \
	"$here/fuzz_gguf.c" "$src"/*.c "$src"/*/*.c "$root"/lib/src/*.c \
	"$root"/firmware/kernels/*.c $(pkg-config --libs libdrm liburing) -lm -lpthread \
	-o "$out/fuzz_gguf"
cd "$out"
./fuzz_gguf -max_total_time="$secs" -max_len=65536 -timeout=10 new "$here/corpus"
./fuzz_gguf -merge=1 "$here/corpus" new
