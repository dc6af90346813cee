"""A process's CPU time from /proc, and waiting until it is idle (the wire benchmark's view
of the agent process from outside)."""

from __future__ import annotations

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system time of the process (all threads) and of its waited-for children."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    fields = data.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state) of proc(5)
    return sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime stime cutime cstime


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
