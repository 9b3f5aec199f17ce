#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ember-mkmodel command line, checked through ember-run.

- --shape writes a model that ember-run loads and runs, labelled as
  GENERATED everywhere it is reported; the same seed gives the same file;
- --quantize converts the real stories260K to Q8_0 / Q4_0 / F16, says how
  many weights it converted and which it kept (rows of 172 values do not
  fill blocks of 32), and the result runs;
- bad input: an unknown shape or type, a block type on a shape it does not
  fit, an output that cannot be created, a missing input: a message and a
  non-zero exit.

usage: test_ember_mkmodel.py ember-mkmodel ember-run path/to/shared/models
Prints TAP.
"""
import filecmp
import json
import os
import sys
import tempfile

from tap import check, finish, run

MK, RUN, MODELS = sys.argv[1], sys.argv[2], sys.argv[3]
STORIES = os.path.join(MODELS, "stories260K.gguf")


def bench(path):
    """ember-run --bench --json's decode object for a model, or None."""
    r = run(RUN, ["-m", path, "--bench", "--json", "--prefill", "4", "-n", "2",
                  "--reps", "1", "--threads", "1"])
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return rows[-1] if r.returncode == 0 and rows else None


def test_shape(d):
    a, b, c = (os.path.join(d, n) for n in ("a.gguf", "b.gguf", "c.gguf"))
    r = run(MK, ["--shape", "stories260k", "--type", "f16", "--seed", "5", "-o", a])
    check("--shape stories260k --type f16 writes a GENERATED model",
          r.returncode == 0 and "GENERATED f16 weights" in r.stdout, r.stdout + r.stderr)
    run(MK, ["--shape", "stories260k", "--type", "f16", "--seed", "5", "-o", b])
    run(MK, ["--shape", "stories260k", "--type", "f16", "--seed", "6", "-o", c])
    check("the same seed writes the same file, another seed another",
          os.path.exists(c) and filecmp.cmp(a, b, shallow=False)
          and not filecmp.cmp(a, c, shallow=False))
    g = run(RUN, ["-m", a, "-p", "Once", "-n", "8", "--temp", "0"])
    check("ember-run runs it and labels it GENERATED",
          g.returncode == 0 and "GENERATED weights" in g.stderr, g.stderr)
    row = bench(a)
    check("ember-run --bench --json: generated_weights true, dtype f16",
          row is not None and row["generated_weights"] is True and row["dtype"] == "f16"
          and "GENERATED" in row["model"], row)


def test_quantize(d):
    for t in ("q8_0", "q4_0", "f16"):
        out = os.path.join(d, f"s-{t}.gguf")
        r = run(MK, ["--quantize", t, STORIES, out])
        # 37 2-D weights; the 5 ffn_down ones have rows of 172
        want = (f"wrote {out}: 37 weights as {t}\n" if t == "f16" else
                f"wrote {out}: 32 weights as {t}\n  5 kept as they were: their rows do "
                "not fill whole blocks of 32 (first: blk.0.ffn_down.weight)\n")
        check(f"--quantize {t}: converts and says what it kept",
              r.returncode == 0 and r.stdout == want, f"{r.stdout!r}\n{want!r}\n{r.stderr}")
        row = bench(out)
        check(f"--quantize {t}: ember-run runs it as real {t} weights",
              row is not None and row["dtype"] == t and row["generated_weights"] is False,
              row)


def test_errors(d):
    out = os.path.join(d, "x.gguf")
    cases = [
        ("an unknown shape", ["--shape", "nope", "-o", out], 2,
         "unknown shape 'nope'"),
        ("an unknown type", ["--shape", "smollm2-135m", "--type", "q5_1", "-o", out], 2,
         "unknown type 'q5_1' (f32 f16 bf16 q8_0 q4_0)"),
        ("q8_0 on a shape with ffn 172 (the default type)",
         ["--shape", "stories260k", "-o", out], 1,
         "stories260K: q8_0 weights come in blocks of 32, and the embedding (64) and "
         "feed-forward (172) sizes must be multiples of that; use f32, f16 or bf16"),
        ("an output that cannot be created",
         ["--shape", "stories260k", "--type", "f32", "-o", "/nonexistent/x.gguf"], 1,
         "/nonexistent/x.gguf: cannot create"),
        ("a missing input", ["--quantize", "q8_0", "/nonexistent/in.gguf", out], 1,
         "/nonexistent/in.gguf: cannot open model file"),
        ("a file that is not GGUF", ["--quantize", "q8_0", MK, out], 1, MK),
    ]
    for name, args, rc, msg in cases:
        r = run(MK, args)
        check(f"{name}: exit {rc} and a message",
              r.returncode == rc and msg in r.stderr and "Sanitizer" not in r.stderr
              and "runtime error" not in r.stderr, f"rc {r.returncode}\n{r.stderr}")
    check("nothing was written by the failures", not os.path.exists(out))


with tempfile.TemporaryDirectory() as tmp:
    test_shape(tmp)
    test_quantize(tmp)
    test_errors(tmp)
finish()
