"""The cluster tier's processes: vdsm-netd per host namespace (booted from a dracut command line
file with only the management network) and vdsm-net-manager, used as a black box through its
command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
VDSM_NETD = str(BIN / "vdsm-netd")
MANAGER = str(BIN / "vdsm-net-manager")
CLI_TIMEOUT = 60.0


class Proc:
    """A daemon with its output in a log file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            out.write(f"---- start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(self.env or {})})
        self.started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        self.send(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        self.send(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Agent(Proc):
    def __init__(self, host: str, ns: str, port: int, cmdline: Path, pki: Path, run: Path) -> None:
        self.host = host
        self.port = port
        dhcp = run / f"dhcp-{host}"
        dhcp.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [VDSM_NETD, "--netns", ns, "--listen", f"127.0.0.1:{port}",
             "--advertise", f"127.0.0.1:{port}", "--pki", str(pki), "--cmdline", str(cmdline),
             "--host-id", host],
            run / f"agent-{host}.log", env={"VDSM_NET_DHCP_RUN_DIR": str(dhcp)})
        self.base_argv = list(self.argv)

    def start(self, boot_id: str | None = None) -> None:
        """Start the agent; ``boot_id`` stands for a new kernel's (a reboot), else the
        guest's own is registered."""
        self.argv = [*self.base_argv, *(["--boot-id", boot_id] if boot_id else [])]
        super().start()


class Manager(Proc):
    def __init__(self, name: str, etcd: str, pki: Path, run: Path, lease_ttl: int,
                 resync: float) -> None:
        self.name = name
        super().__init__(
            [MANAGER, "run", "--etcd", etcd, "--id", name, "--pki", str(pki),
             "--lease-ttl", str(lease_ttl), "--resync", str(resync)],
            run / f"manager-{name}.log")


def manager_cli(etcd: str, *args: str, stdin: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MANAGER, "--etcd", etcd, *args], input=stdin, capture_output=True,
                          text=True, check=False, timeout=CLI_TIMEOUT)
    if check and done.returncode:
        raise AssertionError(f"vdsm-net-manager {' '.join(args)}: exit {done.returncode}: "
                             f"{done.stderr.strip()}")
    return done


def hosts_json(etcd: str) -> dict[str, dict[str, Any]]:
    """``hosts --json`` by host id."""
    rows = json.loads(manager_cli(etcd, "hosts", "--json").stdout)
    return {row["id"]: row for row in rows}
