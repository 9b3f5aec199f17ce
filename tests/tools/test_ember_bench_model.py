#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ember-bench model against a stand-in llama-bench (fake_llama_bench.py),
on stories260K: the arguments each llama-bench run gets (one round each:
-r 1, the test's -p/-n/-d, threads, KV type) and their order (each test's
rounds in a row, the sweep in llama-bench's order); every format (md, csv,
json, jsonl, and -oe) with the same figures, strings escaped; the ratio is
the mean of the per-round ratios; a failing or silent llama-bench and bad
options end with a message and a non-zero exit.

usage: test_ember_bench_model.py path/to/ember-bench MODELS_DIR
Prints TAP.
"""
import csv
import io
import json
import os
import statistics
import sys
import tempfile

from tap import check, finish, run as run_exe

EXE, MODELS = sys.argv[1], sys.argv[2]
MODEL = os.path.join(MODELS, "stories260K.gguf")
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_llama_bench.py")
tmp = tempfile.mkdtemp()
LOG = os.path.join(tmp, "calls.jsonl")
SWEEP = ["-m", MODEL, "-t", "1,2", "-p", "16", "-n", "4,0", "-d", "0,8", "-r", "3"]


def run(args, mode="ok"):
    if os.path.exists(LOG):
        os.unlink(LOG)
    env = dict(os.environ, FAKE_LLAMA_LOG=LOG, FAKE_LLAMA_MODE=mode)
    env.pop("EMBER_LLAMA_BENCH", None)
    return run_exe(EXE, ["model"] + args, env=env)


def calls():
    with open(LOG) as f:
        return [json.loads(x) for x in f]


def fake_ts(r):
    return 1000 + r["n_prompt"] + 2 * r["n_gen"] + r["n_depth"] / 4


# the sweep: 2 thread counts x (pp16, tg4) x depths (0, 8), 3 rounds each
r = run(SWEEP + ["--llama-bench", FAKE, "-o", "jsonl", "-oe", "json"])
try:
    recs = [json.loads(x) for x in r.stdout.splitlines()]
except ValueError as e:
    recs = []
    print(f"# {e}")
check("jsonl: one JSON object a line, exit 0", r.returncode == 0 and recs, r.stderr)
tests = [(t, p, n, d) for t in (1, 2) for (p, n) in ((16, 0), (0, 4)) for d in (0, 8)]
got = [(x["n_threads"], x["n_prompt"], x["n_gen"], x["n_depth"]) for x in recs[::2]]
check("a row per thread count and test, in llama-bench's order", got == tests, got)
check("ember's record then llama.cpp's",
      [x["engine"] for x in recs] == ["ember", "llama.cpp"] * len(tests),
      [x["engine"] for x in recs])
want = [["-m", MODEL, "-t", str(t), "-p", str(p), "-n", str(n), "-d", str(d),
         "-r", "1", "-ctk", "f16", "-ctv", "f16", "-o", "jsonl"]
        for (t, p, n, d) in tests for _ in range(3)]
c = calls()
check("llama-bench runs once per round with the test's arguments", c == want,
      "\n".join(map(str, c[:4])))
names = [x["test"] for x in recs[::2]]
check("test names as llama-bench's", names[:4] == ["pp16", "pp16 @ d8", "tg4", "tg4 @ d8"],
      names)
ok = True
for e, l in zip(recs[::2], recs[1::2]):
    ok &= len(e["samples_ts"]) == 3 and all(v > 0 for v in e["samples_ts"])
    ok &= l["samples_ts"] == [fake_ts(l)] * 3 and abs(l["avg_ts"] - fake_ts(l)) < 1e-6
    ok &= abs(e["avg_ts"] - statistics.mean(e["samples_ts"])) <= 1e-6 * e["avg_ts"]
    ok &= abs(e["stddev_ts"] - statistics.stdev(e["samples_ts"])) <= 1e-6 * e["avg_ts"] + 1e-9
    q = [a / b for a, b in zip(e["samples_ts"], l["samples_ts"])]
    ok &= abs(e["ratio_vs_llama_cpp"] - statistics.mean(q)) <= 1e-6 * statistics.mean(q)
    ok &= abs(e["ratio_stddev"] - statistics.stdev(q)) <= 1e-6 * statistics.mean(q) + 1e-9
    ok &= l["ratio_vs_llama_cpp"] == e["ratio_vs_llama_cpp"]
check("samples, mean, stddev and the mean of per-round ratios", ok, recs[:2])
l = recs[1]
check("llama.cpp's build and CPU strings come through intact",
      l["build_commit"] == 'fa"ke\\1' and l["cpu_info"] == "Fake\tCPU", l)
e = recs[0]
check("ember names its build and the model",
      e["build_commit"] and e["build_commit"] != "unknown" and
      e["model_type"].startswith("llama ") and e["model_n_params"] > 200000 and
      e["model_size"] == os.path.getsize(MODEL), e)
try:
    arr = json.loads(r.stderr[r.stderr.index("["):])
except ValueError as e:
    arr = None
    print(f"# {e}")
check("-oe json: the same records on stderr, as one JSON array", arr == recs,
      r.stderr[:400])

# scripts/plot-bench draws those records: a panel per test, the ratios
PLOT = os.path.join(os.path.dirname(FAKE), "..", "..", "scripts", "plot-bench")
with open(os.path.join(tmp, "recs.json"), "w") as f:
    json.dump(recs, f)
svg = os.path.join(tmp, "recs.svg")
p = run_exe(sys.executable, [PLOT, os.path.join(tmp, "recs.json"), svg])
text = open(svg).read() if os.path.exists(svg) else ""
q = f"{recs[0]['ratio_vs_llama_cpp']:.2f}x"
check("plot-bench: an SVG with every test's panel, both engines and the ratios",
      p.returncode == 0 and text.startswith("<?xml") and
      all(f">{t}<" in text for t in ("pp16", "tg4 @ d8", "ember", "llama.cpp", q)),
      p.stderr + text[:300])
p = run_exe(sys.executable, [PLOT, LOG, svg])
check("plot-bench: a file that is not ember-bench model's: exit 1, says so",
      p.returncode == 1 and "ember-bench model" in p.stderr, p.stderr)

r = run(SWEEP[:-2] + ["-r", "2", "--llama-bench", FAKE, "-o", "csv"])
rows = list(csv.DictReader(io.StringIO(r.stdout)))
check("csv: a header and a row per engine and test", r.returncode == 0 and
      len(rows) == 2 * len(tests) and rows[1]["build_commit"] == 'fa"ke\\1' and
      rows[1]["cpu_info"] == "Fake\tCPU" and len(rows[0]["samples_ts"].split(";")) == 2,
      r.stdout[:600])

r = run(["-m", MODEL, "-t", "1", "-p", "16", "-n", "4", "-r", "2", "--llama-bench", FAKE])
lines = [x for x in r.stdout.splitlines() if x.startswith("| stories260K")]
cells = [x.split("|")[1:-1] for x in lines]
check("md: a row per test with both engines and the ratio",
      r.returncode == 0 and len(cells) == 2 and
      all(c[7].strip() == f"{1000 + 16:.2f} ± 0.00" or c[7].strip() == f"{1000 + 8:.2f} ± 0.00"
          for c in cells) and all("±" in c[8] for c in cells), r.stdout)
check("md: the footer names both builds and the rounds",
      'llama.cpp fa"ke\\1' in r.stdout and "2 rounds each, interleaved" in r.stdout, r.stdout)

r = run(["-m", MODEL, "-t", "1", "-r", "1", "--tests", "pp16,tg4@d8,pp8@d4", "--llama-bench", FAKE,
         "-o", "jsonl"])
recs = [json.loads(x) for x in r.stdout.splitlines()] if r.returncode == 0 else []
c = calls() if r.returncode == 0 else []
check("--tests: exactly the tests named, in their order",
      [x["test"] for x in recs[::2]] == ["pp16", "tg4 @ d8", "pp8 @ d4"] and
      [a[5:10:2] for a in c] == [["16", "0", "0"], ["0", "4", "8"], ["8", "0", "4"]],
      r.stdout + r.stderr + str(c))

r = run(["-m", MODEL, "-t", "1", "-p", "16", "-n", "0", "-r", "1", "--llama-bench", "none",
         "-o", "jsonl"])
recs = [json.loads(x) for x in r.stdout.splitlines()] if r.returncode == 0 else []
check("--llama-bench none: Ember alone, the ratio null",
      len(recs) == 1 and recs[0]["ratio_vs_llama_cpp"] is None and not os.path.exists(LOG),
      r.stdout + r.stderr)

r = run(["-m", MODEL, "-t", "1", "-p", "16", "-n", "0", "-r", "1", "--llama-bench", FAKE],
        mode="fail")
check("a failing llama-bench: exit 1, its status and message shown",
      r.returncode == 1 and "exited with status 3" in r.stderr and
      "failed to load model" in r.stderr, r.stderr)
r = run(["-m", MODEL, "-t", "1", "-p", "16", "-n", "0", "-r", "1", "--llama-bench", FAKE],
        mode="garbage")
check("llama-bench output without a result: exit 1, what it printed shown",
      r.returncode == 1 and "printed no JSON result" in r.stderr and "not json" in r.stderr,
      r.stderr)

for args, says in (([], "which model"), (["-m", MODEL, "-o", "xml"], "md, csv, json or jsonl"),
                   (["-m", MODEL, "-r", "0"], "-r wants"),
                   (["-m", MODEL, "-t", "2,x"], "-t wants"),
                   (["-m", MODEL, "-p", "0", "-n", "0"], "nothing to measure"),
                   (["-m", MODEL, "--llama-bench", "/nonexistent/llama-bench"],
                    "cannot run llama-bench"),
                   (["-m", MODEL, "--tests", "pp16,xx4"], "--tests wants"),
                   (["-m", MODEL, "--tests", "tg4@d"], "--tests wants"),
                   (["-m", MODEL, "--bogus", "1"], "unknown option")):
    r = run(args)
    check(f"bad options {args[-2:]}: exit 2, says '{says}'",
          r.returncode == 2 and says in r.stderr, r.stderr)
r = run(["-m", os.path.join(tmp, "missing.gguf"), "--llama-bench", "none", "-r", "1"])
check("a missing model: exit 1 with the loader's message",
      r.returncode == 1 and "missing.gguf" in r.stderr, r.stderr)
finish()
