"""Where the agent's CPU goes during one call: py-spy (``pip install py-spy``) samples the agent
process from outside, and the samples are summed per function, by its own time (the frame on
top of the stack) and by its inclusive time (anywhere on the stack), each as a share of all
the samples taken while the agent ran (py-spy skips idle threads)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RATE = 250  # samples a second


def py_spy() -> str | None:
    """py-spy beside this interpreter or on PATH, or None."""
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


@contextmanager
def sampled(pid: int, out: Path) -> Iterator[None]:
    """Sample ``pid`` into ``out`` (py-spy's raw format) while the body runs."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    proc = subprocess.Popen(
        [exe, "record", "--rate", str(RATE), "--pid", str(pid), "--format", "raw",
         "--output", str(out), "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the call starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
PLUMBING = ("threading.py", "thread.py")  # every worker's stack starts there


def _frames(line: str) -> tuple[list[str], int]:
    """One raw line (``thread;frame;...;frame count``) as ``function (file)`` names."""
    stack, _, count = line.rpartition(" ")
    frames = []
    for frame in stack.split(";")[1:]:  # [0] is the thread
        m = FRAME.match(frame)
        fn, file = (m["fn"], Path(m["file"]).name) if m else (frame, "?")
        if file not in PLUMBING:
            frames.append(f"{fn} ({file})")
    return frames, int(count)


def summary(raw: Path, top: int = 15) -> str:
    """The ``top`` functions by own and by inclusive samples, as text."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        frames, count = _frames(line)
        total += count
        if frames:
            own[frames[-1]] += count
        for name in set(frames):
            incl[name] += count
    if not total:
        return "  no samples\n"
    lines = [f"  {total} samples at {RATE}/s ({total / RATE:.2f} s of agent CPU)"]
    for title, counter in (("own", own), ("inclusive", incl)):
        lines.append(f"  top {top} by {title} time:")
        lines += [f"    {100 * c / total:5.1f}%  {name}" for name, c in counter.most_common(top)]
    return "\n".join(lines) + "\n"
