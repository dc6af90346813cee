"""A process's CPU time from /proc, and waiting until it is idle (the wire benchmark's view
of the agent process from outside)."""

from __future__ import annotations

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str, children: bool) -> float:
    with open(path, encoding="ascii") as f:
        data = f.read()
    fields = data.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state) of proc(5)
    return sum(int(x) for x in fields[11:15 if children else 13]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system time of the process (all threads) and of its waited-for children."""
    return _stat_cpu(f"/proc/{pid}/stat", children=True)


def thread_cpu_seconds(tid: int) -> float:
    """User + system time of one thread of this process (``Thread.native_id``)."""
    return _stat_cpu(f"/proc/self/task/{tid}/stat", children=False)


def settle(pid: int, quiet: float = 0.5, timeout: float = 120.0) -> float:
    """Wait until the process has used no CPU for ``quiet`` seconds (a drift compare after an
    apply, say); the CPU seconds it used while we waited. TimeoutError if it never goes quiet."""
    start = last = cpu_seconds(pid)
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu_seconds(pid)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return now - start
    raise TimeoutError(f"process {pid} still busy after {timeout} s")
