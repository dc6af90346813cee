"""Daemons a test starts (their output in a log file under TMPDIR), and Open vSwitch with
everything under /run: ovsdb-server with a database created there, ovs-vswitchd (optionally in a
network namespace, so its datapath and internal ports live there)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


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
    """ovsdb-server (database created under a fresh /run directory) and ovs-vswitchd, in
    ``netns`` when given; yields the OVSDB remote ``unix:<socket>``."""
    run = Path(tempfile.mkdtemp(prefix="ovs-", dir="/run"))
    db, sock = run / "conf.db", run / "db.sock"
    subprocess.run(["ovsdb-tool", "create", str(db), SCHEMA], check=True, timeout=60)
    env = {**os.environ, "OVS_RUNDIR": str(run), "OVS_LOGDIR": str(run), "OVS_DBDIR": str(run)}
    daemons = [Daemon("ovsdb-server", [
        "ovsdb-server", str(db), f"--remote=punix:{sock}", f"--pidfile={run}/ovsdb.pid",
        f"--unixctl={run}/ovsdb.ctl"], env)]
    try:
        daemons[0].wait_for(sock.exists)
        subprocess.run(["ovs-vsctl", f"--db=unix:{sock}", "--no-wait", "init"], check=True,
                       timeout=60)
        prefix = ["ip", "netns", "exec", netns] if netns else []
        daemons.append(Daemon("ovs-vswitchd", [
            *prefix, "ovs-vswitchd", f"unix:{sock}", f"--pidfile={run}/vswitchd.pid",
            f"--unixctl={run}/vswitchd.ctl"], env))
        daemons[1].wait_for(lambda: Path(f"{run}/vswitchd.pid").exists())
        yield f"unix:{sock}"
    finally:
        for d in reversed(daemons):
            d.stop()
