#!/bin/sh
# SPDX-License-Identifier: MIT
# Ember on the files llama.cpp's own llama-quantize writes.
#
# llama-quantize is built from the source bundle of the pinned
# node-llama-cpp (scripts/build-llama-cpp.sh, cached under ~/.cache/ember;
# ~3.5 min cold). ember-mkmodel writes F16 models with GENERATED weights:
# tiny-256 (every row a multiple of 256, 8 layers: the K_M mixes give
# some layers more bits and not others) and smollm2-135m cut to 4 layers
# and 1024 tokens (576-wide rows: llama-quantize falls back Q4_K -> Q5_0,
# Q5_K -> Q5_1, Q6_K -> Q8_0; tied embeddings: token_embd is the LM head).
# llama-quantize converts each to Q4_K_M, Q5_K_M, Q6_K, Q4_0, Q8_0, Q5_0 and
# Q4_1 (llama.cpp's default rules, not --pure: the LM head of a plain type
# becomes Q6_K, or Q8_0 where rows are not whole super-blocks); and
# qwen1.5-0.5b cut to 2 layers and 1024 tokens (qwen2: attention biases, an
# LM head of its own) to Q4_K_M. For each:
#  - types: every tensor's type as ember's GGUF reader sees it
#    (ember-mkmodel --info) is what llama-quantize's log says it wrote;
#  - rules: `ember-mkmodel --quantize` of the same F16 file gives every
#    weight the type llama-quantize gave it (for a plain type all but the
#    LM head, which ember-mkmodel leaves in the type asked for);
#  - error: for each weight both gave the same type, the relative RMS error
#    against the F16 values (both files dequantized by ember) of ember's
#    quantization is at most EMBER_QUANT_SLACK (default 1.01) times
#    llama-quantize's; each weight's pair is printed;
#  - greedy: ember-run's 32 greedy tokens against llama.cpp's along them
#    (lib.sh's check: near ties within EMBER_INTEROP_TOL pass, as in
#    run-interop-test.sh).
# Then the prompts of a tokenizer set on tiny-256 Q4_K_M: Ember's prompt
# ids (BOS included) equal llama.cpp's for each, and its greedy tokens.
#
# Observed (llama.cpp de3ff815, these models): ember's error over
# llama-quantize's per weight 0.992-0.997 for q4_K, 0.96-0.97 for q5_K,
# 0.97-0.997 for q6_K, 0.9999-1.0000 (the same rounding) for q8_0, q4_0,
# q4_1, q5_0 and q5_1; the greedy tokens equal, or apart on near ties of
# at most 0.6% (5 of the 21 prompts).
#
# usage: run-llama-quantize-test.sh EMBER-MKMODEL EMBER-RUN TESTS/INTEROP
# Prints TAP and a summary line. Exit 77 (meson: SKIP) only when node/npm,
# the registry or cmake is unavailable; 1 on any failure.
set -u
mk=$1 run=$2 here=$3
n=32
tol=${EMBER_INTEROP_TOL:-0.02}
slack=${EMBER_QUANT_SLACK:-1.01}
types="Q4_K_M Q5_K_M Q6_K Q4_0 Q8_0 Q5_0 Q4_1"

# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"
interop_init
command -v cmake >/dev/null || { echo "SKIP: cmake is not installed (scripts/install-deps.sh)"; exit 77; }
bin=$(bash "$here/../../scripts/build-llama-cpp.sh") || {
	echo "FAIL: scripts/build-llama-cpp.sh failed (message above)"; exit 1; }
quantize=$bin/llama-quantize
[ -x "$quantize" ] || { echo "FAIL: no llama-quantize in $bin"; exit 1; }
echo "# llama-quantize: $quantize ($(paste -sd ';' "$bin/build-info"))"

printf '%s\n' "Once upon a time" >"$tmp/one.txt"
# SentencePiece paths: pieces, spaces, digits and punctuation, a tab,
# capitals and non-ASCII through byte fallback (the vocabulary's pieces are
# lower-case letters)
cat >"$tmp/tok.txt" <<'EOF'
Once upon a time
Hello, world! 12345 #$%&
  two  spaces and	a tab
café naïve façade
日本語 😀 emoji
EOF

# lq_types LOG: "NAME TYPE" for every tensor llama-quantize's log lists:
# "[  2/ 38]  token_embd.weight - [...], type = f16, converting to q8_0 .."
# or, for a tensor it copies, "... type = f32, size = ...".
lq_types() {
	awk '/^\[ *[0-9]+\/ *[0-9]+\]/ {
		sub(/^\[[^]]*\] */, "")
		name = $1
		if (match($0, /converting to [A-Za-z0-9_]+/))
			t = substr($0, RSTART + 14, RLENGTH - 14)
		else if (match($0, /type = *[A-Za-z0-9_]+/))
			t = substr($0, RSTART, RLENGTH)
		sub(/^type = */, "", t)
		print name, t
	}' "$1" | sort
}

# tensors INFO: "NAME TYPE" from ember-mkmodel --info's listing
tensors() {
	awk '/^  / { print $1, $2 }' "$1" | sort
}

# counts FILE: "q5_0 22, q8_0 4, ..." of its "NAME TYPE" lines
counts() {
	awk '{ c[$2]++ } END { for (t in c) printf "%s %d\n", t, c[t] }' "$1" | sort |
		awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $1, $2 }'
}

# quant LABEL F16 TYPE HEAD: the four checks above on F16 converted to TYPE;
# HEAD is the LM head's name (output.weight, or token_embd.weight if tied)
quant() {
	label="$1 $3 (llama-quantize)" lt=$(echo "$3" | tr '[:upper:]' '[:lower:]')
	if ! "$quantize" "$2" "$tmp/lq.gguf" "$3" >"$tmp/lq.log" 2>&1; then
		tap "not ok" "$label: llama-quantize failed"
		sed 's/^/#   /' "$tmp/lq.log" | tail -n 15
		return
	fi
	lq_types "$tmp/lq.log" >"$tmp/lq.types"
	if ! "$mk" --info "$tmp/lq.gguf" "$2" >"$tmp/lq.info" 2>&1; then
		tap "not ok" "$label: ember-mkmodel --info cannot read llama-quantize's file"
		sed 's/^/#   /' "$tmp/lq.info" | tail -n 5
		return
	fi
	tensors "$tmp/lq.info" >"$tmp/lq.seen"
	if [ ! -s "$tmp/lq.types" ]; then
		tap "not ok" "$label: no tensor lines in llama-quantize's log (its format changed?)"
		sed 's/^/#   /' "$tmp/lq.log" | tail -n 15
	elif cmp -s "$tmp/lq.types" "$tmp/lq.seen"; then
		tap ok "$label: ember reads the types llama-quantize wrote ($(wc -l <"$tmp/lq.seen") tensors: $(counts "$tmp/lq.seen"))"
	else
		tap "not ok" "$label: the types ember reads differ from llama-quantize's log (< log, > ember)"
		diff "$tmp/lq.types" "$tmp/lq.seen" | grep '^[<>]' | sed 's/^/#   /'
	fi

	# ember-mkmodel's own conversion of the same F16 values
	if ! "$mk" --quantize "$lt" "$2" "$tmp/em.gguf" >"$tmp/em.log" 2>&1 ||
	   ! "$mk" --info "$tmp/em.gguf" "$2" >"$tmp/em.info" 2>&1; then
		tap "not ok" "$label: ember-mkmodel --quantize $lt failed"
		sed 's/^/#   /' "$tmp/em.log" | tail -n 5
	else
		# "NAME LQ_TYPE EM_TYPE LQ_ERR EM_ERR" for the 2-D weights
		awk 'FNR == 1 { f++ } /^  / && $3 ~ /x/ && $1 !~ /_norm/ {
			if (f == 1) { t[$1] = $2; e[$1] = $4 }
			else if ($1 in t) print $1, t[$1], $2, e[$1], $4
		}' "$tmp/lq.info" "$tmp/em.info" >"$tmp/pairs"
		# rules: only a plain type's LM head may differ
		bad=$(awk -v head="$4" -v mixed="$(case $3 in *_M) echo 1 ;; *) echo 0 ;; esac)" '
			$2 != $3 && (mixed || $1 != head) { printf "%s%s: llama-quantize %s, ember %s", (n++ ? "; " : ""), $1, $2, $3 }
			$2 != $3 && !mixed && $1 == head { note = $1 " " $2 " (ember-mkmodel: " $3 ")" }
			END { if (!n && note) printf "#%s", note }' "$tmp/pairs")
		case $bad in
		"#"*) tap ok "$label: ember-mkmodel --quantize $lt gives every weight llama-quantize's type but the LM head, ${bad#\#}" ;;
		"") tap ok "$label: ember-mkmodel --quantize $lt gives every weight llama-quantize's type" ;;
		*) tap "not ok" "$label: ember-mkmodel --quantize $lt's types differ from llama-quantize's: $bad" ;;
		esac
		# error: Ember's <= slack x llama-quantize's where the types agree
		awk -v s="$slack" -v label="$label" '
			$2 == $3 && $4 != "-" && $5 != "-" {
				k++
				r = $4 > 0 ? $5 / $4 : ($5 > 0 ? 1e9 : 1)
				printf "#   %-28s %-5s ember %s  llama-quantize %s  ratio %.4f%s\n",
				       $1, $2, $5, $4, r, (r > s ? "  > " s : "")
				if (r > s) bad++
				if (r > worst) { worst = r; at = $1 " (" $2 ")" }
				sum += log(r > 0 ? r : 1e-9)
			}
			END {
				if (!k) { print "not ok - " label ": no weight of the same type in both files"; exit }
				printf "%s - %s: relative RMS error against F16: ember-mkmodel --quantize <= %s x llama-quantize'"'"'s on %d/%d weights (geometric mean ratio %.4f, largest %.4f: %s)\n",
				       bad ? "not ok" : "ok", label, s, k - bad, k, exp(sum / k), worst, at
			}' "$tmp/pairs" >"$tmp/err.out"
		grep '^#' "$tmp/err.out"
		line=$(grep -v '^#' "$tmp/err.out")
		case $line in
		"ok - "*) tap ok "${line#ok - }" ;;
		*) tap "not ok" "${line#not ok - }" ;;
		esac
	fi
	check "$label" "$tmp/lq.gguf" "$tmp/one.txt"
	[ "$1 $3" != "tiny-256 Q4_K_M" ] || check "$label, tokenizer prompts" "$tmp/lq.gguf" "$tmp/tok.txt"
	rm -f "$tmp/lq.gguf" "$tmp/em.gguf"
}

# model NAME HEAD TYPES ARGS...: an F16 model of ember-mkmodel --shape NAME
# ARGS, then each of TYPES
model() {
	name=$1 head=$2 these=$3
	shift 3
	if ! "$mk" --shape "$name" --type f16 --seed 1 "$@" -o "$tmp/f16.gguf" >"$tmp/mk.out" 2>&1; then
		tap "not ok" "$name: ember-mkmodel --shape $name --type f16 $* failed: $(tail -n 1 "$tmp/mk.out")"
		return
	fi
	echo "# $name (GENERATED, seed 1${*:+, $*}), F16 -> llama-quantize"
	for t in $these; do
		quant "$name" "$tmp/f16.gguf" "$t" "$head"
	done
	rm -f "$tmp/f16.gguf"
}

model tiny-256 output.weight "$types"
model smollm2-135m token_embd.weight "$types" --layers 4 --vocab 1024
model qwen1.5-0.5b output.weight Q4_K_M --layers 2 --vocab 1024

interop_done llama-quantize
