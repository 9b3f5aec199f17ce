#!/usr/bin/env python3
"""Turns test output into per-suite counts for scripts/test.sh.

  summarize.py meson TESTLOG_JSON [REQUIRED_SUITE...]
  summarize.py guest CONSOLE_LOG

Prints one line per suite: "suite<TAB>passed<TAB>failed<TAB>skipped<TAB>note".
A required suite with no tests, a guest test that died mid-run or one that
exited non-zero without a failing TAP line counts as a failure, so a missing
or crashing piece can never look like a pass.
"""
import json
import re
import sys
from collections import OrderedDict

PASS_RESULTS = {"OK", "EXPECTEDFAIL"}
SKIP_RESULTS = {"SKIP"}
KSFT_SKIP = 4


def emit(suite, passed, failed, skipped, note=""):
    print(f"{suite}\t{passed}\t{failed}\t{skipped}\t{note}")


def suite_of(t):
    """The test's first suite (a test in several is counted once)."""
    suites = t.get("suite")
    if suites:
        return suites[0].split(":", 1)[-1]
    # meson >= 1.x names tests "project:suite1+suite2 / name".
    head = t.get("name", "").split(" / ", 1)
    if len(head) == 2 and ":" in head[0]:
        return head[0].split(":", 1)[1].split("+")[0]
    return "(none)"


def meson(path, required):
    counts = OrderedDict()
    failures = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        emit("host", 0, 1, 0, f"no meson test log ({e.strerror})")
        return
    for line in lines:
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        s = suite_of(t)
        c = counts.setdefault(s, [0, 0, 0])
        r = t.get("result", "ERROR")
        if r in PASS_RESULTS:
            c[0] += 1
        elif r in SKIP_RESULTS:
            c[2] += 1
        else:
            c[1] += 1
            name = t.get("name", "?").split(" / ", 1)[-1]
            failures.setdefault(s, []).append(f"{name}={r}")
    for s in required:
        if s not in counts:
            emit(f"host:{s}", 0, 1, 0, "no tests in this suite (missing piece)")
    for s, (p, fl, sk) in counts.items():
        emit(f"host:{s}", p, fl, sk, " ".join(failures.get(s, [])[:8]))


TAP = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*([^#]*)(?:#\s*(\S+)(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")


def guest(path, prefix="guest"):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [l.rstrip("\r\n") for l in f]
    cur = None
    ran = 0
    kw_seen = 0
    for line in lines:
        m = re.search(r"@@EMBER-TEST-BEGIN (\S+)", line)
        if m:
            cur = {"name": m.group(1), "p": 0, "f": 0,
                   "s": 0, "plan": None, "results": 0, "failed": []}
            continue
        if cur is None:
            continue
        m = re.search(r"@@EMBER-TEST-END (\S+) rc=(\d+)(?: kernel_warnings=(\d+))?", line)
        if m:
            if m.group(3) is not None and int(m.group(3)) > kw_seen:
                cur["failed"].append(f"kernel WARN/BUG lines appeared during this test")
                kw_seen = int(m.group(3))
            finish(cur, int(m.group(2)), prefix)
            ran += 1
            cur = None
            continue
        m = PLAN.match(line)
        if m and cur["plan"] is None:
            cur["plan"] = int(m.group(1))
            continue
        m = TAP.match(line)
        if not m:
            continue
        cur["results"] += 1
        directive = (m.group(4) or "").upper()
        if directive == "SKIP" or (m.group(1) == "not ok" and directive == "TODO"):
            cur["s"] += 1
        elif m.group(1) == "ok":
            cur["p"] += 1
        else:
            cur["f"] += 1
            cur["failed"].append(m.group(3).strip() or m.group(2) or "?")
    if cur is not None:  # the guest stopped inside this test
        cur["f"] += 1
        cur["failed"].append("guest stopped during this test")
        finish(cur, None, prefix)
    if ran == 0 and cur is None:
        emit(prefix, 0, 1, 0, "no guest test ran")
    kw = [l for l in lines if "@@EMBER-EXIT" in l]
    if kw:
        n = int(kw[-1].rsplit("kernel_warnings=", 1)[-1].split()[0])
        emit(f"{prefix}:kernel-log", 0 if n else 1, 1 if n else 0, 0,
             f"{n} WARNING/BUG lines in the guest kernel log" if n else "clean")
    else:
        emit(f"{prefix}:kernel-log", 0, 1, 0, "guest gave no exit marker (crash/timeout)")


def finish(t, rc, prefix):
    notes = list(t["failed"])
    if t["plan"] is not None and t["results"] < t["plan"]:
        missing = t["plan"] - t["results"]
        t["f"] += missing
        notes.append(f"{missing} planned tests never reported")
    if rc is not None:
        if rc not in (0, KSFT_SKIP) and t["f"] == 0:
            t["f"] += 1
            notes.append(f"exit status {rc} without a failing TAP line")
        elif t["results"] == 0 and rc == KSFT_SKIP:
            t["s"] += 1
        elif t["results"] == 0 and rc == 0:
            t["p"] += 1  # a plain script: its exit status is the result
        if rc != 0:
            notes.append(f"rc={rc}")
    emit(f"{prefix}:{t['name']}", t["p"], t["f"], t["s"], "; ".join(notes[:8]))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "meson":
        meson(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "guest":
        guest(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
