#!/usr/bin/env bash
# Ember beside llama.cpp on the models of docs/performance.md, in one
# command: ember-bench model (release build) against llama-bench built for
# this CPU from the pinned llama.cpp (scripts/build-llama-cpp.sh), on
# SmolLM2-135M, Qwen2.5-0.5B and TinyLlama-1.1B shapes with generated
# weights, each as llama-quantize writes Q8_0, Q4_0 and Q4_K_M from the
# F16 file (the files both engines read are the ones the hubs ship).
#
#   scripts/bench-model.sh [--shapes "a b"] [--types "Q8_0 Q4_0"] [-t N] [-r N]
#                          [--tests LIST] [--prepare]
#
# --prepare: make the models (and llama-bench) only, measure nothing.
#
# Defaults: every shape and type, -t 2 -r 3, --tests
# pp512,tg128,tg128@d512,tg128@d2048 (prefill from an empty context;
# decode from an empty one and at depths 512 and 2048).
# Writes $EMBER_BENCH_OUT (default build-rel/bench-model/): model.json
# (ember-bench model -o json), model.md (the table), model.svg
# (scripts/plot-bench). The models are cached in $EMBER_CACHE/bench-models/.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

shapes="smollm2-135m qwen2.5-0.5b tinyllama-1.1b"
types="Q8_0 Q4_0 Q4_K_M"
prepare=0
declare -A opt=([-t]=2 [-r]=3 [--tests]=pp512,tg128,tg128@d512,tg128@d2048)
while [ $# -gt 0 ]; do
	case $1 in
	--shapes) shapes=$2; shift 2 ;;
	--types) types=$2; shift 2 ;;
	--prepare) prepare=1; shift ;;
	-t|-r|--tests) opt[$1]=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done

rel=$EMBER_ROOT/build-rel
out=${EMBER_BENCH_OUT:-$rel/bench-model}
mkdir -p "$out"
if [ ! -f "$rel/build.ninja" ]; then
	note "configuring $rel (release)"
	meson setup "$rel" "$EMBER_ROOT" --buildtype=release >&2
fi
ninja -C "$rel" tools/ember-bench/ember-bench tools/ember-mkmodel/ember-mkmodel >&2 ||
	die "building the release ember-bench in $rel failed"
llama=$(bash "$EMBER_ROOT/scripts/build-llama-cpp.sh") || die "scripts/build-llama-cpp.sh failed (above)"

# the models: F16 from ember-mkmodel, quantized by llama-quantize; keyed by
# the generator's source and the llama.cpp build
key=$(cat "$EMBER_ROOT"/tools/ember-mkmodel/synth.c "$llama/build-info" | sha256sum | cut -c1-12)
mdir=$EMBER_CACHE/bench-models/$key
mkdir -p "$mdir"
models=()
for s in $shapes; do
	for t in $types; do
		f=$mdir/$s-$t.gguf
		if [ ! -f "$f" ]; then
			[ -f "$mdir/$s-F16.gguf" ] || {
				note "generating $s (F16)"
				"$rel/tools/ember-mkmodel/ember-mkmodel" --shape "$s" --type f16 \
					-o "$mdir/$s-F16.gguf" >&2; }
			note "llama-quantize $s $t"
			"$llama/llama-quantize" "$mdir/$s-F16.gguf" "$f.tmp" "$t" \
				>"$mdir/quantize.log" 2>&1 ||
				{ tail -n 20 "$mdir/quantize.log" >&2; die "llama-quantize $s $t failed"; }
			mv "$f.tmp" "$f"
		fi
		models+=(-m "$f")
	done
	rm -f "$mdir/$s-F16.gguf"
done

[ "$prepare" = 0 ] || { note "models ready in $mdir"; exit 0; }
args=()
for k in "${!opt[@]}"; do args+=("$k" "${opt[$k]}"); done
note "ember-bench model ${args[*]} on $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2-)"
"$rel/tools/ember-bench/ember-bench" model "${models[@]}" "${args[@]}" \
	--llama-bench "$llama/llama-bench" -o json -oe md \
	>"$out/model.json" 2>"$out/model.md" ||
	{ cat "$out/model.md" >&2; die "ember-bench model failed (above)"; }
cat "$out/model.md"
python3 "$EMBER_ROOT/scripts/plot-bench" "$out/model.json" "$out/model.svg"
note "wrote $out/model.json, model.md, model.svg"
