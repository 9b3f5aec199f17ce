#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ember-mkmodel command line, checked through ember-run.

- --shape writes a model that ember-run loads and runs, labelled as
  GENERATED everywhere it is reported; the same seed gives the same file;
- --quantize converts the real stories260K to Q8_0 / Q4_0 / F16, says how
  many weights it converted and which it kept (rows of 172 values do not
  fill blocks of 32), prints each weight's relative RMS error, and the
  result runs;
- llama-quantize's mixes: --type q4_k_m / q5_k_m / q6_k put the types
  llama.cpp's rules give in the file (read back from its tensor table):
  Q6_K for output and for attn_v / ffn_down in the use_more_bits layers,
  the K type elsewhere, and on 576-wide rows the fallbacks (Q4_K -> Q5_0,
  Q6_K -> Q8_0); --quantize q6_k then q8_0 reports its errors, and ember-run
  generates from a q4_k_m model the same text on one thread and on all;
- a tensor type ember does not compute (IQ4_XS, TQ1_0 patched into a
  file): ember-run names the tensor, the type and the way out, and
  --quantize says it cannot read it;
- --info lists every tensor with the type and dimensions of the file's
  table, and against the F32 input the relative RMS error --quantize
  printed for it ("-" for a type it cannot read);
- bad input: an unknown shape or type, a block type on a shape it does not
  fit, an output that cannot be created, a missing input: a message and a
  non-zero exit.

usage: test_ember_mkmodel.py ember-mkmodel ember-run path/to/shared/models
Prints TAP.
"""
import filecmp
import json
import os
import re
import struct
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


F32, Q8_0, Q4_K, Q5_0, Q5_K, Q6_K, IQ4_XS, TQ1_0 = 0, 8, 12, 6, 13, 14, 23, 34


def tensor_table(path):
    """{name: (GGML type, dims, byte offset of the type field)} from a GGUF file."""
    with open(path, "rb") as f:
        b = f.read()
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip(t, pos):
        if t == 8:                                  # string
            return pos + 8 + struct.unpack_from("<Q", b, pos)[0]
        if t == 9:                                  # array
            et, n = struct.unpack_from("<IQ", b, pos)
            pos += 12
            if et in sizes:
                return pos + n * sizes[et]
            for _ in range(n):
                pos = skip(et, pos)
            return pos
        return pos + sizes[t]

    n_t, n_kv = struct.unpack_from("<QQ", b, 8)
    pos = 24
    for _ in range(n_kv):
        pos += 8 + struct.unpack_from("<Q", b, pos)[0]
        t, = struct.unpack_from("<I", b, pos)
        pos = skip(t, pos + 4)
    out = {}
    for _ in range(n_t):
        n, = struct.unpack_from("<Q", b, pos)
        name = b[pos + 8:pos + 8 + n].decode()
        pos += 8 + n
        nd, = struct.unpack_from("<I", b, pos)
        ne = list(struct.unpack_from(f"<{nd}Q", b, pos + 4))
        pos += 4 + 8 * nd
        out[name] = (struct.unpack_from("<I", b, pos)[0], ne, pos)
        pos += 12
    return out


def weight_lines(stdout):
    """{name: (from, to, relative RMS error or None)} of --quantize's per-weight lines."""
    out = {}
    for m in re.finditer(r"^  (\S+) +(\S+) +-> (\S+) +(relative RMS error (\S+)|.*)$",
                         stdout, re.M):
        out[m[1]] = (m[2], m[3], float(m[5]) if m[5] else None)
    return out


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
    # relative RMS error of each type on stories260K's trained f32 weights
    bound = {"q8_0": 0.01, "q4_0": 0.15, "f16": 0.001}
    for t in ("q8_0", "q4_0", "f16"):
        out = os.path.join(d, f"s-{t}.gguf")
        r = run(MK, ["--quantize", t, STORIES, out])
        # 37 2-D weights; the 5 ffn_down ones have rows of 172
        want = (f"wrote {out}: 37 weights as {t}\n" if t == "f16" else
                f"wrote {out}: 32 weights as {t}\n  5 kept as they were: their rows do "
                "not fill whole blocks of 32 (first: blk.0.ffn_down.weight)\n")
        check(f"--quantize {t}: converts and says what it kept",
              r.returncode == 0 and r.stdout.endswith(want), f"{r.stdout!r}\n{want!r}\n{r.stderr}")
        lines = weight_lines(r.stdout)
        conv = [e for (a, b, e) in lines.values() if a == "f32" and b == t and e is not None]
        kept = [n for n, (a, b, e) in lines.items() if e is None]
        check(f"--quantize {t}: a line per weight with its relative RMS error "
              f"(0 < e < {bound[t]})",
              len(lines) == 37 and len(conv) == (37 if t == "f16" else 32)
              and all(0 < e < bound[t] for e in conv)
              and kept == ([] if t == "f16" else
                           [f"blk.{i}.ffn_down.weight" for i in range(5)]), r.stdout)
        row = bench(out)
        check(f"--quantize {t}: ember-run runs it as real {t} weights",
              row is not None and row["dtype"] == t and row["generated_weights"] is False,
              row)


def more_bits(i, n):
    """llama.cpp's use_more_bits()."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def check_types(label, path, want):
    """The file holds exactly want's types for want's tensors."""
    table = tensor_table(path)
    bad = {n: (table.get(n, (None,))[0], t) for n, t in want.items()
           if table.get(n, (None,))[0] != t}
    check(f"{label}: per-tensor types as llama-quantize's rules give them", not bad,
          f"(name: (got, want)) {bad}")


def test_k_mixes(d):
    # tiny-256: every width a multiple of 256, 8 layers, its own output.weight
    a = os.path.join(d, "tiny-q4km.gguf")
    r = run(MK, ["--shape", "tiny-256", "--type", "q4_k_m", "-o", a])
    check("--shape tiny-256 --type q4_k_m writes a model",
          r.returncode == 0 and "GENERATED q4_K_M weights" in r.stdout, r.stdout + r.stderr)
    want = {"output.weight": Q6_K, "token_embd.weight": Q4_K, "output_norm.weight": F32,
            "blk.0.attn_norm.weight": F32}
    for i in range(8):
        big = Q6_K if i in (0, 3, 6, 7) else Q4_K   # use_more_bits(i, 8)
        assert more_bits(i, 8) == (big == Q6_K)
        for w in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
            want[f"blk.{i}.{w}.weight"] = Q4_K
        want[f"blk.{i}.attn_v.weight"] = big
        want[f"blk.{i}.ffn_down.weight"] = big
    check_types("q4_k_m on tiny-256", a, want)
    if r.returncode:
        return

    # SmolLM2's 576-wide rows fit no super-block of 256: Q4_K falls back to
    # Q5_0 and Q6_K to Q8_0; its tied token_embd is the LM head (Q6_K ->
    # Q8_0). 2 layers: use_more_bits picks layer 1 only.
    b = os.path.join(d, "smol-q4km.gguf")
    r = run(MK, ["--shape", "smollm2-135m", "--layers", "2", "--vocab", "1024",
                 "--type", "q4_k_m", "-o", b])
    check("--shape smollm2-135m --layers 2 --vocab 1024 --type q4_k_m writes a model",
          r.returncode == 0, r.stdout + r.stderr)
    check_types("q4_k_m on 576-wide rows", b, {
        "token_embd.weight": Q8_0, "blk.0.attn_q.weight": Q5_0, "blk.0.attn_v.weight": Q5_0,
        "blk.1.attn_v.weight": Q8_0, "blk.0.ffn_gate.weight": Q5_0,
        "blk.0.ffn_down.weight": Q4_K, "blk.1.ffn_down.weight": Q6_K})
    check("the tied model has no output.weight", "output.weight" not in tensor_table(b))

    # the same rules through --quantize, from f32
    f = os.path.join(d, "tiny-f32.gguf")
    run(MK, ["--shape", "tiny-256", "--type", "f32", "-o", f])
    c = os.path.join(d, "tiny-q5km.gguf")
    r = run(MK, ["--quantize", "q5_k_m", f, c])
    want5 = {n: (Q5_K if t == Q4_K else t) for n, t in want.items()}
    check("--quantize q5_k_m: 58 weights, q5_K and q6_K",
          r.returncode == 0 and f"wrote {c}: 58 weights as q5_K_M (q5_K 49, q6_K 9)\n" in r.stdout,
          r.stdout + r.stderr)
    check_types("--quantize q5_k_m on tiny-256", c, want5)
    e = os.path.join(d, "tiny-q6k.gguf")
    run(MK, ["--quantize", "q6_k", f, e])
    check_types("--quantize q6_k on tiny-256", e,
                {n: (Q6_K if t != F32 else F32) for n, t in want.items()})
    r = run(MK, ["--quantize", "q6_k", b, os.path.join(d, "smol-q6k.gguf")])
    check_types("--quantize q6_k on 576-wide rows", os.path.join(d, "smol-q6k.gguf"), {
        "token_embd.weight": Q8_0, "blk.0.attn_q.weight": Q8_0,
        "blk.0.ffn_down.weight": Q6_K})

    # Q6_K -> Q8_0: every weight converted from q6_K, with its error
    g = os.path.join(d, "tiny-q6k-q8.gguf")
    r = run(MK, ["--quantize", "q8_0", e, g])
    lines = weight_lines(r.stdout)
    errs = [x for (a_, b_, x) in lines.values() if a_ == "q6_K" and b_ == "q8_0" and x]
    check("--quantize q8_0 of a q6_K model: a line per weight, q6_K -> q8_0, "
          "0 < error < 0.01",
          r.returncode == 0 and len(lines) == 58 and len(errs) == 58
          and all(0 < x < 0.01 for x in errs)
          and f"wrote {g}: 58 weights as q8_0\n" in r.stdout, r.stdout + r.stderr)
    lines6 = weight_lines(run(MK, ["--quantize", "q6_k", f, e]).stdout)
    check("--quantize q6_k of f32: errors between q8_0's and q4_K's (0.002 .. 0.03)",
          len(lines6) == 58 and all(0.002 < x < 0.03 for (_, _, x) in lines6.values()),
          lines6)
    check_types("q6_K -> q8_0", g, {n: (Q8_0 if t != F32 else F32) for n, t in want.items()})

    # ember-run on the q4_k_m model: deterministic on 1 and on all threads.
    # Its logits are within 2% of its f32 dequantization's (runtime-steps),
    # but the text is not compared: on generated weights the top logits are
    # near ties, and the activations' 8-bit rounding flips some of them.
    args = ["-p", "Once upon a time", "-n", "12", "--temp", "0", "--ignore-eos",
            "--device", "cpu"]
    r1 = run(RUN, ["-m", a] + args)
    r2 = run(RUN, ["-m", a, "--threads", "1"] + args)
    check("ember-run on q4_k_m: runs, 11 decoded tokens, the same text twice",
          r1.returncode == 0 and r1.stdout == r2.stdout and len(r1.stdout) > 16
          and re.search(r"decode: .* for +11 tokens", r1.stderr)
          and "q4_K weights" in r1.stderr, r1.stdout + r1.stderr + r2.stderr)


def patch_type(src, dst, tensor, t):
    """dst: src with tensor's type number set to t (its data left as it is)."""
    with open(src, "rb") as f:
        b = bytearray(f.read())
    struct.pack_into("<I", b, tensor_table(src)[tensor][2], t)
    with open(dst, "wb") as f:
        f.write(b)


def test_unsupported_types(d):
    f = os.path.join(d, "tiny-f32.gguf")
    if not os.path.exists(f):
        run(MK, ["--shape", "tiny-256", "--type", "f32", "-o", f])
    for tensor, t, name in (("blk.0.ffn_down.weight", IQ4_XS, "IQ4_XS"),
                            ("output.weight", TQ1_0, "TQ1_0")):
        p = os.path.join(d, f"{name}.gguf")
        patch_type(f, p, tensor, t)
        r = run(RUN, ["-m", p, "-n", "1", "--device", "cpu"])
        check(f"a model with an {name} tensor: ember-run names the tensor, the type and "
              "the way out",
              r.returncode == 1
              and f"tensor '{tensor}' has type {name}, which ember does not support yet "
              "(it computes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K); "
              "requantize it: ember-mkmodel --quantize" in r.stderr
              and "corrupt" not in r.stderr, r.stderr)
        r = run(MK, ["--quantize", "q8_0", p, os.path.join(d, "never.gguf")])
        check(f"--quantize of an {name} tensor: says it cannot read it",
              r.returncode == 1 and f"tensor '{tensor}' has type {name}, which ember-mkmodel "
              "cannot read" in r.stderr and not os.path.exists(os.path.join(d, "never.gguf")),
              r.stderr)


def test_info(d):
    f, e = os.path.join(d, "tiny-f32.gguf"), os.path.join(d, "tiny-q6k.gguf")
    logged = weight_lines(run(MK, ["--quantize", "q6_k", f, e]).stdout)
    table = tensor_table(e)
    r = run(MK, ["--info", e, f])
    rows = {m[1]: (m[2], m[3], m[4]) for m in
            re.finditer(r"^  (\S+) +(\S+) +(\S+) +(\S+)$", r.stdout, re.M)}
    names = {F32: "f32", Q6_K: "q6_K"}
    check("--info FILE REF: a line per tensor, its type and dimensions as in the file",
          r.returncode == 0 and r.stdout.startswith(f"{e}: GGUF v3, {len(table)} tensors; ")
          and set(rows) == set(table)
          and all(rows[n][0] == names[t] and rows[n][1] == "x".join(map(str, ne))
                  for n, (t, ne, _) in table.items()), r.stdout + r.stderr)
    check("--info FILE REF: each weight's error is --quantize's (58), norms 0",
          len(logged) == 58 and all(
              abs(float(rows[n][2]) - x) <= 5e-4 * x for n, (_, _, x) in logged.items())
          and all(float(v[2]) == 0 for n, v in rows.items() if n not in logged),
          r.stdout)
    p = os.path.join(d, "IQ4_XS.gguf")
    r = run(MK, ["--info", p, f])
    check("--info on an IQ4_XS tensor: named, its error '-'",
          r.returncode == 0 and re.search(r"^  blk\.0\.ffn_down\.weight +IQ4_XS +768x256 +-$",
                                          r.stdout, re.M), r.stdout + r.stderr)
    r = run(MK, ["--info", "/nonexistent/in.gguf"])
    check("--info on a missing file: exit 1 and a message",
          r.returncode == 1 and "/nonexistent/in.gguf: cannot open model file" in r.stderr,
          r.stderr)


def test_errors(d):
    out = os.path.join(d, "x.gguf")
    cases = [
        ("an unknown shape", ["--shape", "nope", "-o", out], 2,
         "unknown shape 'nope'"),
        ("an unknown type", ["--shape", "smollm2-135m", "--type", "q3_k", "-o", out], 2,
         "unknown type 'q3_k' (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_K q5_K q6_K "
         "q4_K_M q5_K_M)"),
        ("a mix as --embd-type", ["--shape", "smollm2-135m", "--embd-type", "q4_k_m",
                                  "-o", out], 2, "unknown type 'q4_k_m'"),
        ("a K mix on a shape with ffn 172",
         ["--shape", "stories260k", "--type", "q4_k_m", "-o", out], 1,
         "stories260K: q4_K weights come in blocks of 256 (32 where they fall back to "
         "q5_0), and the embedding (64) and feed-forward (172) sizes must be multiples"),
        ("--layers 0", ["--shape", "stories260k", "--layers", "0", "-o", out], 2,
         "--layers wants a number from 1, not '0'"),
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
    test_k_mixes(tmp)
    test_unsupported_types(tmp)
    test_info(tmp)
    test_errors(tmp)
finish()
