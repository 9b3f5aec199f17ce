#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ember-bench command line: the read bandwidth and hand-off rows, a
filtered set of kernel rows whose ratio is value / baseline, and bad input
(unknown mode or option, out-of-range values, a filter that matches no row)
answered with a message and a non-zero exit.

usage: test_ember_bench.py path/to/ember-bench
Prints TAP.
"""
import json
import sys

from tap import check, finish, run as run_exe

EXE = sys.argv[1]


def run(args):
    return run_exe(EXE, args)


r = run(["kernels", "--json", "--threads", "2", "--time", "0.02",
         "--filter", "matmul q8_0 1x1536"])
try:
    rows = [json.loads(x) for x in r.stdout.splitlines()]
except ValueError as e:
    rows = []
    print(f"# {e}")
check("kernels --json: JSON lines, exit 0", r.returncode == 0 and rows, r.stdout + r.stderr)
ops = [(x.get("op"), x.get("shape")) for x in rows]
check("the filter keeps read, handoff and the two 1x1536x576 Q8_0 rows",
      ops == [("read", "512 MiB"), ("handoff", "2 threads"),
              ("matmul", "1x1536x576 cold"), ("matmul", "1x1536x576 x16 cold")], ops)
check("read and handoff are measured",
      len(rows) == 4 and rows[0]["value"] > 0 and rows[0]["metric"] == "GB/s"
      and rows[1]["value"] > 0 and rows[1]["metric"] == "ns"
      and all(x["threads"] == 2 for x in rows), rows)
mm = rows[2:] if len(rows) == 4 else []
check("each kernel row: GB/s against the read bandwidth, ratio = value / baseline",
      len(mm) == 2 and all(x["dtype"] == "q8_0" and x["metric"] == "GB/s"
                           and x["value"] > 0 and x["baseline"] > 0
                           and x["baseline_name"] == "read bandwidth"
                           and abs(x["ratio"] - x["value"] / x["baseline"]) <= 0.0006
                           for x in mm), mm)

cases = [
    ("an unknown mode", ["bogus"], 2, "unknown mode 'bogus'"),
    ("an unknown option", ["kernels", "--bogus"], 2, "unknown option '--bogus'"),
    ("zero threads", ["kernels", "--threads", "0"], 2, "--threads wants 1..1024"),
    ("a time of zero", ["kernels", "--time", "0"], 2, "--time wants seconds in (0, 100)"),
    ("a filter that matches nothing", ["kernels", "--time", "0.02", "--filter", "gemv"], 1,
     "no kernel row matches --filter 'gemv'"),
]
for name, args, rc, msg in cases:
    r = run(args)
    check(f"{name}: exit {rc} and a message",
          r.returncode == rc and msg in r.stderr and "Sanitizer" not in r.stderr
          and "runtime error" not in r.stderr, f"rc {r.returncode}\n{r.stderr}")
finish()
