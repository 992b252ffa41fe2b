"""Crash injection, a test hook: named points in the write path where a test can kill the process.

`failpoint("chroma.upsert.after")` does nothing unless the environment variable `SEVE_KILL_AT` names that
point. `SEVE_KILL_AT=name:n` (or a comma list, `a:3,b:1`) makes the n-th call of point `name` in this process
send SIGKILL to the process itself: a real `kill -9`, not an exception, so no `finally`, no atexit handler and
no SQLite rollback in Python runs; what is on disk is what a crash leaves. One line goes to stderr first
(`seve: failpoint NAME#N: SIGKILL`) so that a test can tell its kill from any other death.

`SEVE_FAILPOINT_COUNTS=PATH` writes, when the process exits normally, how many times each point was called
(JSON), so that a test can choose an n that the run reaches.

The variables are read once, at import; when neither is set a failpoint costs one test of a global.
Tests: tests/test_crash_safety.py.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys

KILL_VARIABLE = "SEVE_KILL_AT"
COUNTS_VARIABLE = "SEVE_FAILPOINT_COUNTS"


def parse_plan(spec: str) -> dict[str, int]:
    """`"a:3,b:1"` -> {"a": 3, "b": 1}; a malformed spec fails loudly (a silent typo would kill nothing)."""
    plan: dict[str, int] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, hit = item.rpartition(":")
        if not name or not hit.isdigit() or int(hit) < 1:
            raise ValueError(f"{KILL_VARIABLE}: expected name:n (n >= 1), got {item!r}")
        plan[name] = int(hit)
    return plan


_PLAN = parse_plan(os.environ.get(KILL_VARIABLE, ""))
_COUNTS_PATH = os.environ.get(COUNTS_VARIABLE, "")
_ACTIVE = bool(_PLAN or _COUNTS_PATH)
_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Count a call of point `name`; SIGKILL this process on the hit that SEVE_KILL_AT names."""
    if not _ACTIVE:
        return
    hit = _hits[name] = _hits.get(name, 0) + 1
    if _PLAN.get(name) == hit:
        sys.stderr.write(f"seve: failpoint {name}#{hit}: SIGKILL\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _write_counts() -> None:
    with open(_COUNTS_PATH, "w", encoding="utf-8") as out:
        json.dump(_hits, out, sort_keys=True)


if _COUNTS_PATH:
    atexit.register(_write_counts)
