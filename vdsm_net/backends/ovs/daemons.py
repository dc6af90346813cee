"""Open vSwitch's daemons with nothing persisted: everything under one run directory on a tmpfs
(``--ovs-rundir``, e.g. /run/vdsm-net/ovs).

``ensure_open_vswitch(rundir, netns)`` creates the database there when it is missing (so after a
reboot it starts empty, like the kernel), starts ovsdb-server on ``rundir/db.sock`` and
ovs-vswitchd (inside ``netns`` when given, so its datapath and internal ports live there), each
detached with its pid file, and reuses those already running: an agent restart adopts what is
there. ``stop_open_vswitch(rundir)`` ends both (tests, benchmarks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
DAEMONS = ("ovs-vswitchd", "ovsdb-server")  # in stop order
START_TIMEOUT = 120


class OvsStartError(RuntimeError):
    """A daemon of Open vSwitch could not be started (the message has its output)."""


def _pid(rundir: Path, daemon: str) -> int | None:
    """The pid in the daemon's pid file when that process is alive."""
    try:
        pid = int((rundir / f"{daemon}.pid").read_text(encoding="ascii").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                          timeout=START_TIMEOUT)
    if done.returncode:
        raise OvsStartError(f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()}")


def _daemon_args(rundir: Path, daemon: str) -> list[str]:
    return [f"--pidfile={rundir / daemon}.pid", f"--unixctl={rundir / daemon}.ctl",
            f"--log-file={rundir / daemon}.log", "--detach"]


def ensure_open_vswitch(rundir: Path, netns: str | None = None) -> str:
    """Open vSwitch with its database under ``rundir``; returns the OVSDB remote."""
    rundir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OVS_RUNDIR": str(rundir), "OVS_LOGDIR": str(rundir),
           "OVS_DBDIR": str(rundir)}
    db, sock = rundir / "conf.db", rundir / "db.sock"
    remote = f"unix:{sock}"
    if _pid(rundir, "ovsdb-server") is None:
        if not db.exists():
            _run(["ovsdb-tool", "create", str(db), str(SCHEMA)], env)
        _run(["ovsdb-server", str(db), f"--remote=punix:{sock}",
              *_daemon_args(rundir, "ovsdb-server")], env)
    if _pid(rundir, "ovs-vswitchd") is None:
        _run(["ovs-vsctl", f"--db={remote}", "--no-wait", "init"], env)
        prefix = ["ip", "netns", "exec", netns] if netns else []
        _run([*prefix, "ovs-vswitchd", remote, *_daemon_args(rundir, "ovs-vswitchd")], env)
    return remote


def stop_open_vswitch(rundir: Path) -> None:
    """End both daemons (SIGTERM), waiting up to 30 s for each."""
    for daemon in DAEMONS:
        pid = _pid(rundir, daemon)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid(rundir, daemon) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
