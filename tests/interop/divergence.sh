#!/bin/sh
# SPDX-License-Identifier: MIT
# A divergence study of Ember's greedy text against llama.cpp's on a file of
# prompts (docs/interop.md has the method and the findings).
#
# For every prompt: Ember's N greedy tokens (ember-run --temp 0 on the CPU,
# with --ids and --top-logits), then llama.cpp fed the same prompt and those
# tokens (llama_ref.mjs --follow), so every position is judged in the same
# context. divergence.mjs prints one line per prompt: equal, or the first
# position where the picks differ with both engines' margins there (the
# logit of their own pick over the other's), then the counts.
#
# usage: divergence.sh EMBER-RUN MODEL PROMPTS [TESTS/INTEROP]
# Environment: EMBER_DIV_N tokens per prompt (64); EMBER_DIV_TOL the
# near-tie tolerance (0.005: llama.cpp's margin at most 0.5% of
# max(1, |its best logit|)); EMBER_DIV_MAXDIFF the most a logit of a token
# both engines rank top 5 may differ (0.1); EMBER_DIV_ARGS more ember-run
# options (for example --kv-type f32); EMBER_DIV_KEEP a directory (no
# blanks in its path) that keeps the outputs: ids, ref.json, ember.N.
# The defaults: the f16 roundings that only llama.cpp makes move logits by
# up to 0.04 on stories260K (docs/interop.md), so two logits closer than
# twice that, 0.4% of a best logit near 18, can swap; and a logit more
# than 0.1 off is not rounding.
# Exit 0: every divergence a near tie, the logits within EMBER_DIV_MAXDIFF;
# 1: not, or a run failed; 77 (meson: SKIP): node/npm or the pinned
# node-llama-cpp unavailable.
set -u
if [ $# -lt 3 ]; then
	echo "usage: divergence.sh EMBER-RUN MODEL PROMPTS [TESTS/INTEROP]" >&2
	exit 2
fi
run=$1 model=$2 prompts=$3 here=${4:-$(dirname "$0")}
n=${EMBER_DIV_N:-64}
tol=${EMBER_DIV_TOL:-0.005}
maxdiff=${EMBER_DIV_MAXDIFF:-0.1}

dir=$(sh "$here/../../scripts/lib/node-llama-cpp.sh") || {
	rc=$?
	[ $rc = 77 ] && { echo "SKIP: node-llama-cpp unavailable (message above)"; exit 77; }
	echo "FAIL: installing node-llama-cpp failed"; exit 1; }
if [ -n "${EMBER_DIV_KEEP-}" ]; then
	tmp=$EMBER_DIV_KEEP
	mkdir -p "$tmp" || exit 1
else
	tmp=$(mktemp -d) || exit 1
	trap 'rm -rf "$tmp"' EXIT
fi

t0=$(date +%s)
i=0 outs=""
: >"$tmp/ids"
while IFS= read -r p; do
	[ -n "$p" ] || continue
	i=$((i + 1))
	# shellcheck disable=SC2086 # EMBER_DIV_ARGS: options, split on purpose
	"$run" -m "$model" -p "$p" -n "$n" --temp 0 --ignore-eos --device cpu --threads 1 \
		--ids --top-logits 8 ${EMBER_DIV_ARGS-} </dev/null >/dev/null 2>"$tmp/ember.$i" ||
		echo "# ember-run failed on prompt $i: $(tail -n 1 "$tmp/ember.$i")"
	sed -n 's/^ids://p' "$tmp/ember.$i" | head -n 1 >>"$tmp/ids"	# a line even on failure
	outs="$outs $tmp/ember.$i"
done <"$prompts"
t1=$(date +%s)
if ! node "$here/llama_ref.mjs" "$dir/node_modules" "$model" "$n" --prompts "$prompts" \
     --follow "$tmp/ids" --threads 1 >"$tmp/ref.json" 2>"$tmp/ref.err"; then
	echo "FAIL: llama.cpp (llama_ref.mjs) failed:"
	tail -n 15 "$tmp/ref.err"
	exit 1
fi
# shellcheck disable=SC2016 # JavaScript's ${}, not the shell's
node -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1])).llama_cpp;
	console.log(`# llama.cpp: node-llama-cpp ${i.node_llama_cpp}, commit ${i.llama_cpp_commit}, ` +
		    `CPU variant ${i.cpu_variant}, threads: ${i.threads}, f16 KV cache, no flash attention`)' \
	"$tmp/ref.json"
echo "# Ember: $run ${EMBER_DIV_ARGS-}"
# shellcheck disable=SC2086 # $outs: paths under one directory, no blanks
node "$here/divergence.mjs" "$tol" "$maxdiff" "$tmp/ref.json" $outs
rc=$?
echo "# $i prompts x $n tokens: Ember $((t1 - t0)) s, llama.cpp $(($(date +%s) - t1)) s"
exit $rc
