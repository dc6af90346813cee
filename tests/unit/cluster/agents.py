"""vdsm-netd processes for the unit tier's cluster tests: the simulated kernel on loopback,
booted from a dracut command line file."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from rpc.client import Client
from tests.cluster.etcd_server import free_port
from tests.unit.cluster.cluster_helpers import sync_until

VDSM_NETD = str(Path(sys.executable).parent / "vdsm-netd")
NICS = "eth0,eth1,eth2"
CMDLINE = "ro quiet ip=192.0.2.10::192.0.2.1:24::ovirtmgmt:none bridge=ovirtmgmt:eth0"
WAIT = 30.0  # generous bound for "eventually"


class Proc:
    def __init__(self, argv: list[str], log: Path) -> None:
        self.log_path = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str) -> None:
        sync_until(lambda: text in self.log() or self.proc.poll() is not None, WAIT, text)
        assert text in self.log(), self.log()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(WAIT)


class Starter:
    """Starts vdsm-netd processes from a command line file; SIGKILLs the leftovers."""

    def __init__(self, pki: Path, tmp: Path) -> None:
        self.pki = pki
        self.tmp = tmp
        self.procs: list[Proc] = []

    def __call__(self, cmdline: str, *extra: str) -> tuple[Proc, int]:
        port = free_port()
        path = self.tmp / f"cmdline{len(self.procs)}"
        path.write_text(cmdline + "\n")
        argv = [VDSM_NETD, "--backend", "memory", "--nics", NICS, "--pki", str(self.pki),
                "--listen", f"127.0.0.1:{port}", "--drift", "off", "--cmdline", str(path),
                *extra]
        proc = Proc(argv, self.tmp / f"agent{len(self.procs)}.log")
        self.procs.append(proc)
        return proc, port

    def client(self, port: int) -> Client:
        return Client.connect("127.0.0.1", port, pki_dir=self.pki, timeout=WAIT)
