#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ember-run command line, as a user runs it.

- no arguments: the default model (found from the binary's location) tells
  a story and prints load time, prefill and decode speed and peak memory;
- greedy generation prints exactly llama.cpp's text for every prompt of
  stories260K-reference.json (the library test checks the token ids);
- --ids --top-logits K: a line of K ids and logits per generated position,
  highest first, whose first id is the token greedy generation picked;
- --bench --json: one object per phase with the documented fields, a ratio
  that is tokens_per_s / bound_tokens_per_s, and a bound that is the
  bandwidth read around the tokens over the bytes each reads; a
  prefill-only run measures no bandwidth;
- bad input: a missing model, a bad option value, a Q8_0 cache on a model
  whose head size is not a multiple of 32, no model at all: a message that
  says what to do and a non-zero exit, never a crash.

usage: test_ember_run.py path/to/ember-run path/to/shared/models
Prints TAP.
"""
import json
import os
import shutil
import sys
import tempfile

from tap import check, finish, run as run_exe

EXE, MODELS = sys.argv[1], sys.argv[2]
STORIES = os.path.join(MODELS, "stories260K.gguf")


def run(args, env=None, exe=EXE, cwd=None):
    """ember-run without the caller's EMBER_MODEL, plus env."""
    e = dict(os.environ)
    e.pop("EMBER_MODEL", None)
    e.update(env or {})
    return run_exe(exe, args, env=e, cwd=cwd)


def test_no_arguments():
    r = run(["-n", "24"])
    stats = ["load:", "prefill:", "decode:", "peak memory (RSS):"]
    check("no arguments: the default model tells a story",
          r.returncode == 0 and r.stdout.startswith("Once upon a time")
          and all(s in r.stderr for s in stats), r.stdout + r.stderr)


def test_reference_text():
    with open(os.path.join(MODELS, "stories260K-reference.json")) as f:
        ref = json.load(f)
    for c in ref["cases"]:
        r = run(["-m", STORIES, "-p", c["prompt"], "-n", str(c["n_predict"]),
                 "--temp", "0", "--ignore-eos"])
        # llama.cpp printed BOS as "<s>"; ember-run prints no BOS
        want = c["greedy_output"].removeprefix("<s> ")
        check(f"greedy text of '{c['prompt']}' is llama.cpp's",
              r.returncode == 0 and r.stdout == want,
              f"rc {r.returncode}\ngot:  {r.stdout!r}\nwant: {want!r}\n{r.stderr}")


def test_top_logits():
    n, k = 12, 5
    r = run(["-m", STORIES, "-p", "Once upon a time", "-n", str(n), "--temp", "0",
             "--ignore-eos", "--ids", "--top-logits", str(k)])
    ids, lines = None, []
    for line in r.stderr.splitlines():
        if line.startswith("ids:"):
            ids = [int(x) for x in line[4:].split()]
        elif line.startswith("top-logits: "):
            f = line.split()[1:]
            lines.append((int(f[0]), [int(x) for x in f[1::2]], [float(x) for x in f[2::2]]))
    shaped = ids is not None and len(ids) == n and \
        [p for p, _, _ in lines] == list(range(n)) and \
        all(len(t) == k and len(v) == k and len(set(t)) == k and
            all(a >= b for a, b in zip(v, v[1:])) for _, t, v in lines)
    check("--top-logits 5: a line per position, 5 distinct ids, falling logits",
          r.returncode == 0 and shaped, r.stderr)
    check("--top-logits: the first id of each line is the greedy pick",
          shaped and [t[0] for _, t, _ in lines] == ids, r.stderr)
    wide = run(["-m", STORIES, "-p", "Once upon a time", "-n", str(n), "--temp", "0",
                "--ignore-eos", "--top-logits", "64"])

    def firsts(err, pairs):
        return [" ".join(line.split()[:2 + 2 * pairs]) for line in err.splitlines()
                if line.startswith("top-logits: ")]
    want = firsts(r.stderr, k)
    check("--top-logits 64: 64 pairs a line, the first 5 those of K 5, digit for digit",
          wide.returncode == 0 and shaped and firsts(wide.stderr, k) == want and
          all(len(line.split()) == 2 + 2 * 64 for line in firsts(wide.stderr, 64)),
          wide.stderr[-2000:])


def test_bench_json():
    r = run(["-m", STORIES, "--bench", "--json", "--threads", "2",
             "--prefill", "16", "-n", "8", "--reps", "1"])
    try:
        rows = [json.loads(line) for line in r.stdout.splitlines()]
    except ValueError as e:
        check("--bench --json prints JSON lines", False, f"{e}\n{r.stdout}")
        return
    check("--bench --json: a prefill and a decode object",
          r.returncode == 0 and [x.get("phase") for x in rows] == ["prefill", "decode"],
          r.stdout + r.stderr)
    if len(rows) != 2:
        return
    fields = {"model": str, "generated_weights": bool, "dtype": str, "phase": str,
              "tokens": int, "threads": int, "tokens_per_s": float,
              "bound_tokens_per_s": float, "ratio": float, "peak_rss_bytes": int,
              "bandwidth_gbs": float, "bandwidth_min_gbs": float,
              "bandwidth_max_gbs": float, "read_bytes_per_token": int,
              "handoff_ns": int, "rounds": int, "probes_disturbed": int, "kv_type": str}
    bad = [(k, x.get(k)) for x in rows for k, t in fields.items()
           if not isinstance(x.get(k), (int, float) if t is float else t)]
    check("--bench --json: every documented field, typed", not bad, bad)
    pre, dec = rows
    size = os.path.getsize(STORIES)
    check("--bench --json: the run's shape is reported",
          pre["tokens"] == 16 and dec["tokens"] == 8 and dec["threads"] == 2
          and dec["dtype"] == "f32" and dec["kv_type"] == "f16"
          and dec["generated_weights"] is False and dec["peak_rss_bytes"] > size,
          rows)
    check("--bench --json: decode ratio is tokens_per_s / bound",
          dec["tokens_per_s"] > 0 and dec["bound_tokens_per_s"] > 0
          and dec["bandwidth_gbs"] > 0
          and abs(dec["ratio"] - dec["tokens_per_s"] / dec["bound_tokens_per_s"])
          <= 0.0006     # %.3f
          and pre["bound_tokens_per_s"] == 0 and pre["ratio"] == 0, rows)
    # the bound: the mean bytes a token reads, at the bandwidth read around
    # each token (between the slowest and fastest read)
    b = dec["read_bytes_per_token"]
    check("--bench --json: bound = bandwidth / bytes per token, within the reads' range",
          0.5 * size < b < 1.2 * size
          and 0 < dec["bandwidth_min_gbs"] <= dec["bandwidth_gbs"] <= dec["bandwidth_max_gbs"]
          and abs(dec["bound_tokens_per_s"] - dec["bandwidth_gbs"] * 1e9 / b)
          <= 0.01 * dec["bound_tokens_per_s"], rows)
    check("--bench --json: the one round asked for is run; at most its 9 probes set aside",
          dec["rounds"] == 1 and pre["rounds"] == 1
          and 0 <= dec["probes_disturbed"] <= dec["tokens"] + 1, rows)


def test_bench_prefill_only():
    r = run(["-m", STORIES, "--bench", "--json", "-n", "0", "--prefill", "8",
             "--reps", "2"])
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    check("--bench -n 0: one prefill object, two rounds, no bandwidth measured",
          r.returncode == 0 and len(rows) == 1 and rows[0]["phase"] == "prefill"
          and rows[0]["rounds"] == 2 and rows[0]["bandwidth_gbs"] == 0
          and rows[0]["tokens_per_s"] > 0, r.stdout + r.stderr)


def test_bench_text():
    r = run(["-m", STORIES, "--bench", "--prefill", "8", "-n", "4", "--reps", "1"])
    check("--bench prints prefill, decode against its bound, and the bandwidth",
          r.returncode == 0 and "prefill" in r.stdout and "(bound " in r.stdout
          and "read before each token" in r.stdout and "read bandwidth" in r.stdout,
          r.stdout + r.stderr)


def test_errors():
    cases = [
        ("a missing model file", ["-m", "/nonexistent/m.gguf"], 1,
         "/nonexistent/m.gguf: cannot open model file"),
        ("EMBER_MODEL naming a missing file", [], 1,
         "EMBER_MODEL=/nonexistent/e.gguf: No such file or directory; point it at"),
        ("an unknown KV type", ["--kv-type", "q4_0"], 2,
         "--kv-type must be f16, f32 or q8_0"),
        ("a Q8_0 cache at head size 8", ["-m", STORIES, "--kv-type", "q8_0"], 1,
         "multiple of 32; this model's is 8: use an f16 cache"),
        ("a thread count that is not a number", ["--threads", "abc"], 2,
         "--threads expects an integer in 1..256, got 'abc'"),
        ("a negative token count", ["-n", "-3"], 2, "-n expects an integer"),
        ("--top-logits 0", ["--top-logits", "0"], 2,
         "--top-logits expects an integer in 1..64, got '0'"),
        ("an unknown option", ["--bogus"], 2, "usage: ember-run"),
    ]
    for name, args, rc, msg in cases:
        env = {"EMBER_MODEL": "/nonexistent/e.gguf"} if not args else None
        r = run(["-n", "2"] + args, env=env)    # a later -n wins
        check(f"{name}: exit {rc} and a message", r.returncode == rc
              and msg in r.stderr and "AddressSanitizer" not in r.stderr
              and "runtime error" not in r.stderr,
              f"rc {r.returncode}\n{r.stderr}")


def test_no_model_anywhere():
    # a copy of the binary where no shared/models is above it or the cwd
    with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
        exe = os.path.join(d, "ember-run")
        shutil.copy(EXE, exe)
        r = run(["-n", "2"], exe=exe, cwd=d)
        check("no model found: exit 1 and how to get one",
              r.returncode == 1 and "default model was not found" in r.stderr
              and "-m model.gguf" in r.stderr and "EMBER_MODEL" in r.stderr,
              f"rc {r.returncode}\n{r.stderr}")


test_no_arguments()
test_reference_text()
test_top_logits()
test_bench_json()
test_bench_prefill_only()
test_bench_text()
test_errors()
test_no_model_anywhere()
finish()
