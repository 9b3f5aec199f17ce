#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ember-bench command line: the read bandwidth and hand-off rows, a
filtered set of kernel rows whose ratio is value / baseline; the states
mode's rows, one per third of the bandwidth levels; bad input (unknown
mode or option, out-of-range values, a filter that matches no row)
answered with a message and a non-zero exit; and the device mode on this
host, which has no Ember device: exit 1 with a message that names what is
missing (/dev/accel, ember.ko) and where to run it. Its rows are checked in
the guest (tests/guest/ember-bench-device-test.sh).

usage: test_ember_bench.py path/to/ember-bench
Prints TAP.
"""
import json
import os
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


def json_rows(r):
    try:
        return [json.loads(x) for x in r.stdout.splitlines()]
    except ValueError as e:
        print(f"# {e}")
        return []


def samples(row):
    """The sample count a states row's note starts with."""
    try:
        return int(row.get("note", "").split(" samples")[0])
    except ValueError:
        return -1


r = run(["states", "--json", "--threads", "2", "--time", "1",
         "--filter", "matmul q8_0 1x1536"])
rows = json_rows(r)
check("states --json: JSON lines, exit 0", r.returncode == 0 and rows, r.stdout + r.stderr)
check("states: the filtered op in the low, mid and high thirds of the levels",
      [(x.get("op"), x.get("dtype"), x.get("shape")) for x in rows] ==
      [("matmul", "q8_0", "1x1536x576 " + b) for b in ("low", "mid", "high")], rows)
check("states: GB/s against the read bandwidth of the same moments, ratio = value / baseline",
      len(rows) == 3 and all(x["metric"] == "GB/s" and x["value"] > 0 and x["baseline"] > 0
                             and x["baseline_name"] == "read bandwidth" and x["threads"] == 2
                             and abs(x["ratio"] - x["value"] / x["baseline"]) <= 0.0006
                             for x in rows), rows)
n = [samples(x) for x in rows]
check("states: the thirds hold a third of the samples each (at least a quarter)",
      len(n) == 3 and min(n) > 0 and min(n) * 4 >= sum(n), n)
check("states: the bands are in order of their read bandwidth",
      len(rows) == 3 and rows[0]["baseline"] <= rows[1]["baseline"] <= rows[2]["baseline"],
      [x.get("baseline") for x in rows])

# reading the weight copies in the probe's own pattern measures what the
# probe measures: a wrong byte count or time would be far off 1
r = run(["states", "--json", "--threads", "2", "--time", "1.5", "--filter", "read"])
rows = json_rows(r)
both = [x for x in rows if x.get("op") == "read"]
one = [x for x in rows if x.get("op") == "read-1thr"]
check("states: reads of the weight copies run at the probe's rate (ratio 0.7-1.4)",
      r.returncode == 0 and len(both) == 3 and all(0.7 < x["ratio"] < 1.4 for x in both), rows)
# one thread reads at most what two do (with 15% for noise), and a
# sizeable part of it on any machine
check("states: one thread's reads, per third: 0.2-1.15 of the probe and at most 1.15x two threads'",
      len(one) == 3 and [x["shape"] for x in one] == [y["shape"] for y in both] and
      all(0.2 < a["ratio"] < 1.15 and a["value"] <= 1.15 * b["value"] for a, b in zip(one, both)),
      rows)

cases = [
    ("an unknown mode", ["bogus"], 2, "unknown mode 'bogus'"),
    ("an unknown option", ["kernels", "--bogus"], 2, "unknown option '--bogus'"),
    ("zero threads", ["kernels", "--threads", "0"], 2, "--threads wants 1..1024"),
    ("a time of zero", ["kernels", "--time", "0"], 2, "--time wants seconds in (0, 100)"),
    ("a filter that matches nothing", ["kernels", "--time", "0.02", "--filter", "gemv"], 1,
     "no kernel row matches --filter 'gemv'"),
    ("a states filter that matches nothing", ["states", "--time", "0.5", "--filter", "gemv"], 1,
     "no states op matches --filter 'gemv'"),
    ("--model outside the device mode", ["kernels", "--model", "x.gguf"], 2,
     "--model is for the device mode"),
    ("a device filter that matches nothing", ["device", "--filter", "gemv"], 1,
     "no device row matches --filter 'gemv'"),
]
for name, args, rc, msg in cases:
    r = run(args)
    if rc == 1:
        check(f"{name}: nothing measured first (stdout empty)", r.stdout == "", r.stdout)
    check(f"{name}: exit {rc} and a message",
          r.returncode == rc and msg in r.stderr and "Sanitizer" not in r.stderr
          and "runtime error" not in r.stderr, f"rc {r.returncode}\n{r.stderr}")

# The device mode on a machine without an Ember device (this host): exit 1,
# nothing measured, and a message that says what is missing and what to do.
if os.path.exists("/dev/accel"):
    print("# skip: this machine has /dev/accel; the no-device case needs a machine without one")
else:
    r = run(["device", "--json", "--time", "0.05"])
    check("device without a device: exit 1, nothing printed on stdout",
          r.returncode == 1 and r.stdout == "", f"rc {r.returncode}\n{r.stdout}")
    check("device without a device: the message names /dev/accel and ember.ko and says where to run it",
          "/dev/accel" in r.stderr and "ember.ko" in r.stderr and "run-guest.sh" in r.stderr
          and "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr)
finish()
