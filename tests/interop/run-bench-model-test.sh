#!/bin/sh
# SPDX-License-Identifier: MIT
# ember-bench model against the real llama-bench (scripts/build-llama-cpp.sh,
# cached), on stories260K: both engines measured in every round, llama.cpp's
# build named by the bundle's commit, a ratio per test. Speed is not judged
# here (benchmarks are not tests); that the two engines run side by side
# and their figures arrive intact is.
#
# usage: run-bench-model-test.sh EMBER-BENCH TESTS/INTEROP MODELS_DIR
# Prints TAP: a plan of 0 with SKIP (exit 0) when node/npm, the registry or cmake is
# unavailable to build llama-bench; 1 on any failure.
set -u
bench=$1 here=$2 models=$3
root=$here/../..
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

sh "$root/scripts/lib/node-llama-cpp.sh" >/dev/null 2>"$out/npm.err"
case $? in
0) ;;
77) cat "$out/npm.err" >&2; echo "1..0 # SKIP node-llama-cpp unavailable"; exit 0 ;;
*) cat "$out/npm.err"; echo "not ok 1 - installing node-llama-cpp"; echo "1..1"; exit 1 ;;
esac
command -v cmake >/dev/null || { echo "1..0 # SKIP cmake missing (scripts/install-deps.sh)"; exit 0; }
llama=$(bash "$root/scripts/build-llama-cpp.sh" 2>"$out/build.err") ||
	{ tail -n 20 "$out/build.err"; echo "not ok 1 - building llama-bench"; echo "1..1"; exit 1; }

"$bench" model -m "$models/stories260K.gguf" -t 1 -p 32 -n 8 -d 0,16 -r 2 \
	--llama-bench "$llama/llama-bench" -o jsonl >"$out/r.jsonl" 2>"$out/r.err"
rc=$?
commit=$(awk '$1 == "commit" { print substr($2, 1, 7) }' "$llama/build-info")
python3 - "$out/r.jsonl" "$rc" "$commit" "$out/r.err" <<'P'
import json, sys
path, rc, commit, err = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = 0
def check(name, ok, detail=""):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {name}")
    if not ok:
        for line in str(detail).splitlines()[:20]:
            print(f"# {line}")
    return ok
try:
    recs = [json.loads(x) for x in open(path)]
except ValueError as e:
    recs = []
res = [check("ember-bench model with llama-bench: exit 0, JSON lines", rc == 0 and recs,
             open(err).read())]
eng = [r["engine"] for r in recs]
res.append(check("each of the 4 tests has an ember and a llama.cpp record",
                 eng == ["ember", "llama.cpp"] * 4, eng))
res.append(check("two samples each, every one positive",
                 all(len(r["samples_ts"]) == 2 and min(r["samples_ts"]) > 0 for r in recs),
                 [r["samples_ts"] for r in recs]))
l = [r for r in recs if r["engine"] == "llama.cpp"]
res.append(check(f"llama.cpp's build is the bundle's commit {commit}, built natively",
                 l and all(r["build_commit"] == commit and "GGML_NATIVE" in r["build_info"]
                           for r in l), l[:1]))
res.append(check("a ratio on every record",
                 all(isinstance(r["ratio_vs_llama_cpp"], float) and r["ratio_vs_llama_cpp"] > 0
                     for r in recs), [r["ratio_vs_llama_cpp"] for r in recs]))
for r in recs[::2]:
    print(f"# {r['test']}: ember {r['avg_ts']:.0f} tok/s, ratio {r['ratio_vs_llama_cpp']:.2f}")
print(f"1..{n}")
sys.exit(0 if all(res) else 1)
P
