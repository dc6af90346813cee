"""Real processes for the manager's integration tests: etcd (Debian's etcd-server, loopback,
free ports), vdsm-netd agents on the simulated kernel over loopback TLS registering in it, and
vdsm-net-manager processes and commands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from rpc.client import Client
from tests.cluster.etcd_server import EtcdCluster, free_port
from tests.unit.cluster.cluster_helpers import sync_until

BIN = Path(sys.executable).parent
NICS = "eth0,eth1,eth2,eth3"
WAIT = 40.0  # a generous bound for "eventually" on a busy 2-core machine


def cmdline(index: int) -> str:
    return (f"ro ip=192.0.2.{10 + index}::192.0.2.1:24::ovirtmgmt:none "
            "bridge=ovirtmgmt:eth0")


class Proc:
    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.send(signal.SIGCONT)
        self.send(sig)
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Live:
    """One etcd, agents h0..hN and managers, all on loopback under ``tmp``."""

    def __init__(self, etcd: EtcdCluster, pki: Path, tmp: Path) -> None:
        self.etcd = etcd
        self.pki = pki
        self.tmp = tmp
        self.agents: dict[str, tuple[Proc, int]] = {}
        self.managers: dict[str, Proc] = {}

    def agent(self, index: int, boot_id: str | None = None) -> tuple[Proc, int]:
        """Start (or start anew: an empty simulated kernel, like a reboot) host ``h{index}``;
        ``boot_id`` stands for the kernel's (a reboot has a new one)."""
        host = f"h{index}"
        old = self.agents.get(host)
        port = old[1] if old else free_port()
        path = self.tmp / f"cmdline-{host}"
        path.write_text(cmdline(index) + "\n")
        proc = Proc([str(BIN / "vdsm-netd"), "--backend", "memory", "--nics", NICS,
                     "--pki", str(self.pki), "--listen", f"127.0.0.1:{port}",
                     "--advertise", f"127.0.0.1:{port}", "--cmdline", str(path),
                     "--host-id", host, "--cluster", self.etcd.url,
                     *(["--boot-id", boot_id] if boot_id else [])],
                    self.tmp / f"agent-{host}.log")
        proc.start()
        self.agents[host] = (proc, port)
        return proc, port

    def manager(self, name: str, ttl: int = 2, resync: float = 30) -> Proc:
        proc = Proc([str(BIN / "vdsm-net-manager"), "run", "--etcd", self.etcd.url, "--id", name,
                     "--pki", str(self.pki), "--lease-ttl", str(ttl), "--resync", str(resync)],
                    self.tmp / f"manager-{name}.log")
        proc.start()
        self.managers[name] = proc
        return proc

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "vdsm-net-manager"), "--etcd", self.etcd.url, *args],
                              input=stdin, capture_output=True, text=True, timeout=WAIT)

    def hosts(self) -> dict[str, dict[str, Any]]:
        out = self.cli("hosts", "--json")
        assert out.returncode == 0, out.stderr
        return {h["id"]: h for h in json.loads(out.stdout)}

    def leader(self) -> str | None:
        out = self.cli("leader")
        return out.stdout.strip() if out.returncode == 0 else None

    def call(self, host: str, verb: str, params: dict[str, Any] | None = None) -> Any:
        """A verb on a host, as any engine would call it (the manager's own certificate)."""
        with Client.connect("127.0.0.1", self.agents[host][1], pki_dir=self.pki,
                            timeout=WAIT) as client:
            return client.call(verb, params)

    def caps(self, host: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(host, "Host.getNetworkCapabilities")
        return result

    def set_policy(self, policy: dict[str, Any]) -> None:
        out = self.cli("policy", "set", "-f", "-", stdin=json.dumps(policy))
        assert out.returncode == 0, out.stderr

    def wait_states(self, want: dict[str, str], what: str) -> float:
        def check() -> bool:
            hosts = self.hosts()
            return all(hosts.get(h, {}).get("state") == s for h, s in want.items())

        return sync_until(check, WAIT, f"{what}: {want}; now {self.hosts()}")

    def wait_caps(self, host: str, check: Any, what: str) -> float:
        def ok() -> bool:
            try:
                return bool(check(self.caps(host)))
            except Exception:
                return False

        return sync_until(ok, WAIT, f"{host}: {what}")

    def wait_registered(self, hosts: list[str]) -> None:
        sync_until(lambda: all(self.hosts().get(h, {}).get("registered") for h in hosts),
                   WAIT, f"registrations of {hosts}")
