#!/bin/sh
# SPDX-License-Identifier: MIT
# Ember's greedy tokens against llama.cpp's on the same GGUF files.
#
# llama.cpp comes from the npm package node-llama-cpp (its prebuilt CPU
# libraries, loaded offline), installed into a cache outside the tree:
# ${EMBER_NPM_DIR:-~/.cache/ember-npm}/node-llama-cpp-VERSION, a prefix of its
# own beside the tokenizer packages of runtime-bpe-npm.
#
# Models: stories260K.gguf (trained) with the prompts of its reference file,
# and for every type `ember-mkmodel --help` lists: stories260K re-quantized
# to it (--quantize), and models with GENERATED weights of the llama and
# qwen2 shapes --help lists: every one of at most 20M parameters that
# takes the type, or else the smallest that does with tied embeddings and
# the smallest with an LM head of its own (output.weight), cut to 2 layers
# and 1024 tokens (--layers, --vocab) so that they run in seconds. (A tied
# qwen2 shape with random weights repeats the last prompt token, a weak
# check that the output flags; qwen1.5-0.5b's own LM head does not.)
#
# Each prompt: Ember's 32 greedy tokens (ember-run --ids), then llama.cpp
# fed the same prompt and those tokens (llama_ref.mjs --follow), so every
# position is judged in the same context. Pass: the same prompt tokens, and
# at every position Ember's token is llama.cpp's or within EMBER_INTEROP_TOL
# (default 2%) of max(1, |llama.cpp's best logit|) below it in llama.cpp's
# logits: a near tie decided the other way by different rounding. Observed:
# f32/f16/bf16 models all token-identical; block types diverge on near ties
# of up to 1.2% (tiny-256 q5_K). EMBER_INTEROP_TOL=0 asks for equal tokens.
# ember-run prints no logits, so only tokens are compared.
#
# usage: run-interop-test.sh EMBER-MKMODEL EMBER-RUN TESTS/INTEROP MODELS_DIR
# Prints TAP and a summary line. Exit 77 (meson: SKIP) only when node/npm or
# the registry is unavailable; 1 on any failure.
set -u
mk=$1 run=$2 here=$3 models=$4
n=32
tol=${EMBER_INTEROP_TOL:-0.02}
small=20000000
prompt="Once upon a time"

# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"
# the pinned node-llama-cpp, installed once into a cache outside the tree
interop_init

# The shapes of an architecture from ember-mkmodel --help, smallest first:
# "PARAMETERS NAME tied|untied" lines (weights of the embeddings and the
# blocks).
shapes() {
	"$mk" --help | awk -v a="$1" '
	function num(k) {
		if (!match($0, k " [0-9]+"))
			return 0
		return substr($0, RSTART + length(k) + 1, RLENGTH - length(k) - 1) + 0
	}
	$2 == a ":" {
		e = num("embd")
		blocks = num("layers") * e * (4 * e + 3 * num("ffn"))
		tied = $0 ~ /tied embeddings/
		printf "%.0f %s %s\n", num("vocab") * e * (tied ? 1 : 2) + blocks, $1,
		       tied ? "tied" : "untied"
	}' | sort -n
}

# gen ARCH TYPE: models of ARCH's shapes with TYPE weights (see the top)
gen() {
	why="ember-mkmodel --help lists no $1 shape" made=0 cut_made=""
	shapes "$1" >"$tmp/shapes"
	while read -r size s head; do
		cut=""
		if [ "$size" -gt $small ]; then
			# one cut model of each LM head kind, when no small one ran
			[ $made -eq 0 ] || [ -n "$cut_made" ] || break
			case " $cut_made " in *" $head "*) continue ;; esac
			"$mk" --help | grep -q -- --layers && cut="--layers 2 --vocab 1024"
		fi
		# shellcheck disable=SC2086 # $cut: two options or none
		if "$mk" --shape "$s" --type "$2" $cut --seed 1 -o "$tmp/m.gguf" \
		   >"$tmp/mk.out" 2>&1 </dev/null; then
			made=$((made + 1))
			check "$s $2 (GENERATED, seed 1${cut:+, $cut})" "$tmp/m.gguf" "$tmp/one.txt" </dev/null
			rm -f "$tmp/m.gguf"
			[ -z "$cut" ] || cut_made="$cut_made $head"
		else
			why=$(tail -n 1 "$tmp/mk.out")
		fi
	done <"$tmp/shapes"
	[ $made -gt 0 ] || tap skip "$1 $2: no $1 shape takes $2 ($why)"
}

# requant LABEL SOURCE TYPE PROMPTS: SOURCE re-quantized to TYPE by
# ember-mkmodel --quantize (weights whose rows do not fill TYPE's blocks
# stay as they are)
requant() {
	if ! "$mk" --quantize "$3" "$2" "$tmp/q.gguf" >"$tmp/mk.out" 2>&1; then
		tap skip "$1: ember-mkmodel --quantize $3 refused: $(tail -n 1 "$tmp/mk.out")"
		return
	fi
	conv=$(sed -n 's/^wrote .*: \([0-9]*\) weights as .*/\1/p' "$tmp/mk.out")
	if [ "${conv:-0}" -eq 0 ]; then
		tap skip "$1: no weight's rows fill whole $3 blocks"
	else
		check "$1 ($conv weights as $3)" "$tmp/q.gguf" "$4"
	fi
	rm -f "$tmp/q.gguf"
}

stories=$models/stories260K.gguf
reference=$models/stories260K-reference.json
printf '%s\n' "$prompt" >"$tmp/one.txt"
node -e 'for (const c of JSON.parse(require("fs").readFileSync(process.argv[1])).cases)
	console.log(c.prompt)' "$reference" >"$tmp/stories.txt" || {
	echo "FAIL: cannot read the prompts of $reference"; exit 1; }

check "stories260K.gguf (trained, f32)" "$stories" "$tmp/stories.txt"
# the npm build tokenizes the reference prompts as the recorded llama.cpp did
if node -e 'const fs = require("fs");
	const want = JSON.parse(fs.readFileSync(process.argv[1])).cases.map((c) => c.prompt_tokens.join(" "));
	const got = JSON.parse(fs.readFileSync(process.argv[2])).results.map((r) => r.prompt_tokens.join(" "));
	process.exit(JSON.stringify(want) === JSON.stringify(got) ? 0 : 1)' "$reference" "$tmp/ref.json"; then
	tap ok "llama.cpp's prompt tokens equal stories260K-reference.json's"
else
	tap "not ok" "llama.cpp's prompt tokens differ from stories260K-reference.json's (the wrong model or tokenizer?)"
fi

types=$("$mk" --help | sed -n 's/^types: \([^(]*\).*/\1/p')
[ -n "$types" ] || tap "not ok" "no 'types:' line in ember-mkmodel --help"
for t in $types; do
	echo "# type $t"
	gen llama "$t"
	gen qwen2 "$t"
	[ "$t" = f32 ] || requant "stories260K (trained)" "$stories" "$t" "$tmp/stories.txt"
done

interop_done interop
