#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the GGUF fuzz target with clang + libFuzzer (ASan/UBSan) and runs it.
#   tests/runtime/fuzz/run-fuzz.sh [SECONDS] [BUILD_DIR]
# New interesting inputs are merged into tests/runtime/fuzz/corpus/ (keep
# them: the 'runtime-fuzz-corpus' meson test replays the corpus), crashes
# are written to BUILD_DIR/gguf-crashes/. The build and run are
# tests/fuzz/libfuzzer.sh's, which CI runs for 60 s ('runtime-fuzz-libfuzzer').
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/../../fuzz/libfuzzer.sh" grow gguf "${1:-60}" "${2:-/tmp/ember-fuzz}"
