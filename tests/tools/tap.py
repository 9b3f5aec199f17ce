# SPDX-License-Identifier: MIT
"""TAP output for the command-line tests: run a tool, check, finish."""
import subprocess
import sys

_results = []


def run(exe, args, env=None, cwd=None):
    """The tool's exit status, stdout and stderr (text)."""
    return subprocess.run([exe] + args, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def check(name, ok, detail=""):
    """One TAP line; on failure, detail as comments."""
    _results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(_results)} - {name}")
    if not ok and detail:
        for line in str(detail).splitlines()[:20]:
            print(f"# {line}")


def finish():
    """The plan line; exit 1 if anything failed."""
    print(f"1..{len(_results)}")
    sys.exit(0 if all(_results) else 1)
