#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzzes the command-stream execution target (tests/firmware/fuzz_run.c) with
# clang + libFuzzer + ASan/UBSan for SECONDS (default 600) and merges the
# inputs that add coverage into tests/firmware/fuzz/corpus/ (keep them: the
# 'fw-fuzz-run-corpus' meson test replays the corpus and checks it still
# runs every op kind). Binary, new inputs and crash reproducers: BUILD_DIR.
#   tests/firmware/fuzz/run-fuzz.sh [SECONDS] [BUILD_DIR]
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/../../fuzz/libfuzzer.sh" grow fw-run "${1:-600}" "${2:-/tmp/ember-fuzz}"
