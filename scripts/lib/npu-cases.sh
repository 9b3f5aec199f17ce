#!/usr/bin/env bash
# Fills DIR (shared read-only with the guest as /share) with what the guest's
# NPU test (tests/guest/ember-npu-run-test.sh) compares against:
#   stories260K.gguf, stories260K-reference.json   copied from ../shared/models
#   smollm2-135m-{q8_0,q4_0,f16,q4_k_m}.gguf, qwen2.5-0.5b-q8_0.gguf
#                                  generated here (ember-mkmodel)
#   cases.txt                      NAME|MODEL|N|PROMPT, one case a line
#   NAME.expected                  the host CPU's greedy output for that case
# The host CPU's outputs are the reference: the host tests hold them equal
# to llama.cpp's for stories260K (tests/runtime/test_reference.c).
#
#   scripts/lib/npu-cases.sh BUILD_DIR MODELS_DIR OUT_DIR
set -euo pipefail
build=$1 models=$2 out=$3
run=$build/tools/ember-run/ember-run
mk=$build/tools/ember-mkmodel/ember-mkmodel
[ -x "$run" ] && [ -x "$mk" ] || { echo "npu-cases: build $build first (scripts/build.sh host)" >&2; exit 1; }
[ -f "$models/stories260K.gguf" ] && [ -f "$models/stories260K-reference.json" ] ||
	{ echo "npu-cases: $models has no stories260K.gguf and its reference (shared/models beside the clone)" >&2; exit 1; }
mkdir -p "$out"
install -m 0644 "$models/stories260K.gguf" "$models/stories260K-reference.json" "$out/"
# ember-mkmodel's output depends only on its code and arguments: regenerate
# when the binary changes.
stamp=$(sha256sum "$mk" | cut -c1-16)
gen() { # SHAPE TYPE
	local f="$out/$1-$2.gguf"
	[ "$(cat "$f.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$f" ] && return 0
	"$mk" --shape "$1" --type "$2" --seed 1 -o "$f" >/dev/null
	echo "$stamp" > "$f.stamp"
}
gen smollm2-135m q8_0
gen smollm2-135m q4_0
gen smollm2-135m f16
gen smollm2-135m q4_k_m
gen qwen2.5-0.5b q8_0
: > "$out/cases.txt"
add_case() { # NAME MODEL N PROMPT
	"$run" -m "$out/$2" -p "$4" -n "$3" --temp 0 --ignore-eos --device cpu \
		> "$out/$1.expected" 2>/dev/null
	printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >> "$out/cases.txt"
}
i=0
while IFS= read -r prompt; do
	add_case "stories-$i" stories260K.gguf 64 "$prompt"
	i=$((i + 1))
done < <(python3 -c '
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    print(c["prompt"])' "$models/stories260K-reference.json")
add_case smollm2-q8_0 smollm2-135m-q8_0.gguf 64 "Once upon a time"
add_case smollm2-q4_0 smollm2-135m-q4_0.gguf 64 "Once upon a time"
add_case smollm2-f16 smollm2-135m-f16.gguf 64 "Once upon a time"
add_case smollm2-q4_k_m smollm2-135m-q4_k_m.gguf 64 "Once upon a time"
add_case qwen2.5-0.5b-q8_0 qwen2.5-0.5b-q8_0.gguf 64 "Once upon a time"
