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
# takes the type, or else the smallest that does, cut to 2 layers and 1024
# tokens (--layers, --vocab) so that it runs in seconds. (Today's only qwen2
# shape ties its embeddings: with random weights it repeats the last prompt
# token, a weak check that the output flags.)
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

# the pinned node-llama-cpp, installed once into a cache outside the tree
dir=$(sh "$here/../../scripts/lib/node-llama-cpp.sh") || {
	rc=$?
	[ $rc = 77 ] && { echo "SKIP: node-llama-cpp unavailable (message above)"; exit 77; }
	echo "FAIL: installing node-llama-cpp failed"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tap_n=0 passed=0 failed=0 skipped=0 near=0

tap() {	# ok|not ok|skip, text
	tap_n=$((tap_n + 1))
	case $1 in
	ok) passed=$((passed + 1)); echo "ok $tap_n - $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $tap_n - $2 # SKIP" ;;
	*) failed=$((failed + 1)); echo "not ok $tap_n - $2" ;;
	esac
}

# The shapes of an architecture from ember-mkmodel --help, smallest first:
# "PARAMETERS NAME" lines (weights of the embeddings and the blocks).
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
		printf "%.0f %s\n", num("vocab") * e * ($0 ~ /tied/ ? 1 : 2) + blocks, $1
	}' | sort -n
}

# check LABEL MODEL PROMPTS: Ember's greedy tokens on MODEL for each line of
# the file PROMPTS, then llama.cpp's logits along them; one TAP line a prompt.
check() {
	t0=$(date +%s)
	errs="" i=0
	: >"$tmp/ids"
	while IFS= read -r p; do
		[ -n "$p" ] || continue
		i=$((i + 1))
		"$run" -m "$2" -p "$p" -n $n --temp 0 --ignore-eos --device cpu --threads 2 --ids </dev/null \
			>/dev/null 2>"$tmp/ember.$i"
		ids=$(sed -n 's/^ids://p' "$tmp/ember.$i" | head -n 1)
		echo "$ids" >>"$tmp/ids"	# a line even when ember-run failed
		errs="$errs $tmp/ember.$i"
	done <"$3"
	if ! node "$here/llama_ref.mjs" "$dir/node_modules" "$2" $n --prompts "$3" --follow "$tmp/ids" \
	     >"$tmp/ref.json" 2>"$tmp/ref.err"; then
		tap "not ok" "$1: llama.cpp (llama_ref.mjs) failed"
		sed 's/^/#   /' "$tmp/ref.err" | tail -n 15
		return
	fi
	if [ -z "${info_shown-}" ]; then
		info_shown=1
		# shellcheck disable=SC2016 # JavaScript's ${}, not the shell's
		node -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1])).llama_cpp;
			console.log(`# llama.cpp: node-llama-cpp ${i.node_llama_cpp} (${i.binaries}, ${i.build_type}), ` +
				    `release ${i.llama_cpp_release}, commit ${i.llama_cpp_commit}, ` +
				    `CPU variant ${i.cpu_variant}, ${i.threads} threads`)' "$tmp/ref.json"
	fi
	# shellcheck disable=SC2086 # $errs: paths under mktemp -d, no blanks
	node "$here/compare.mjs" "$1" "$tol" "$tmp/ref.json" $errs >"$tmp/cmp.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*"near-tie"*) near=$((near + 1)); tap ok "${line#ok - }" ;;
		"ok - "*) tap ok "${line#ok - }" ;;
		"not ok - "*) tap "not ok" "${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done <"$tmp/cmp.out"
	[ $rc -le 1 ] || tap "not ok" "$1: compare.mjs failed (exit $rc)"
	echo "#   ($1: $(($(date +%s) - t0)) s)"
}

# gen ARCH TYPE: models of ARCH's shapes with TYPE weights (see the top)
gen() {
	why="ember-mkmodel --help lists no $1 shape" made=0
	shapes "$1" >"$tmp/shapes"
	while read -r size s; do
		cut=""
		if [ "$size" -gt $small ]; then
			[ $made -eq 0 ] || break
			"$mk" --help | grep -q -- --layers && cut="--layers 2 --vocab 1024"
		fi
		# shellcheck disable=SC2086 # $cut: two options or none
		if "$mk" --shape "$s" --type "$2" $cut --seed 1 -o "$tmp/m.gguf" \
		   >"$tmp/mk.out" 2>&1 </dev/null; then
			made=$((made + 1))
			check "$s $2 (GENERATED, seed 1${cut:+, $cut})" "$tmp/m.gguf" "$tmp/one.txt" </dev/null
			rm -f "$tmp/m.gguf"
			[ -z "$cut" ] || break
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

echo "1..$tap_n"
echo "# $near of the $passed passes had near-tie picks within the tolerance (EMBER_INTEROP_TOL=$tol)"
echo "interop: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] || exit 1
exit 0
