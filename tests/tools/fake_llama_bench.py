#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for llama.cpp's llama-bench in ember-bench model's test: it
logs its arguments (one JSON line per run, to $FAKE_LLAMA_LOG) and prints
one result line as llama-bench -o jsonl does, with tokens/s that the test
can predict: 1000 + n_prompt + 2 * n_gen + n_depth / 4. Its strings carry a
quote, a backslash and a tab, which the reports must escape.
FAKE_LLAMA_MODE: ok (default), fail (exit 3 with a message), garbage (no
JSON on stdout)."""
import json
import os
import sys

args = sys.argv[1:]
opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1, 2)}
with open(os.environ["FAKE_LLAMA_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
mode = os.environ.get("FAKE_LLAMA_MODE", "ok")
if mode == "fail":
    sys.stderr.write("fake llama-bench: error: failed to load model\n")
    sys.exit(3)
if mode == "garbage":
    print("main: not json at all")
    sys.exit(0)
p, n, d = int(opt["-p"]), int(opt["-n"]), int(opt["-d"])
ts = 1000 + p + 2 * n + d / 4
print(json.dumps({
    "build_commit": 'fa"ke\\1', "cpu_info": "Fake\tCPU", "backends": "CPU",
    "model_type": "llama 0M F32", "n_prompt": p, "n_gen": n, "n_depth": d,
    "n_threads": int(opt["-t"]), "avg_ts": ts, "stddev_ts": 0.0,
    "samples_ts": [ts]}))
