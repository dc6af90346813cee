"""Daemons a test starts (their output in a log file under TMPDIR), and Open vSwitch with
everything under /run, started as the agent starts it (``--ovs-rundir``)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vdsm_net.backends.ovs.daemons import ensure_open_vswitch, stop_open_vswitch


class Daemon:
    """A daemon started by a test, its output in a log file under TMPDIR."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_for(self, check: Callable[[], bool], seconds: float = 120) -> None:
        """Wait until check() holds; fail at once, with the daemon's log, if it exits first."""
        deadline = time.monotonic() + seconds
        while not check():
            if self.proc.poll() is not None:
                tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
                pytest.fail(f"{self.name} exited with {self.proc.returncode}: {tail}")
            assert time.monotonic() < deadline, f"{self.name} did not come up within {seconds} s"
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@contextmanager
def open_vswitch(netns: str | None = None) -> Iterator[str]:
    """The agent's own Open vSwitch start (``daemons.ensure_open_vswitch``) in a fresh /run
    directory, ovs-vswitchd in ``netns`` when given; yields the OVSDB remote, stops both after."""
    run = Path(tempfile.mkdtemp(prefix="ovs-", dir="/run"))
    try:
        yield ensure_open_vswitch(run, netns)
    finally:
        stop_open_vswitch(run)
