"""Real etcd members for tests: Debian's ``etcd-server`` (3.4), on loopback (or any given
address) with free ports and a throwaway data directory. No root needed.

``EtcdCluster(n)`` starts ``n`` members as one cluster; ``stop(i)`` / ``start(i)`` stop and restart
one member on its same ports and data, so a test can lose a member or all of etcd and bring it back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

ETCD = "etcd"
START_TIMEOUT = 30.0


def etcd_binary() -> str:
    path = shutil.which(ETCD)
    if path is None:
        raise RuntimeError("no etcd binary: install Debian's etcd-server (make deps-system)")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EtcdCluster:
    """``n`` etcd members named m0..m{n-1}, each with a client and a peer port on ``host``."""

    def __init__(self, data_root: Path, n: int = 1, host: str = "127.0.0.1",
                 heartbeat_ms: int = 100, election_ms: int = 1000) -> None:
        self.root = data_root
        self.timing = [str(heartbeat_ms), str(election_ms)]
        self.host = host
        self.names = [f"m{i}" for i in range(n)]
        self.client_ports = [free_port(host) for _ in self.names]
        self.peer_ports = [free_port(host) for _ in self.names]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.binary = etcd_binary()

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.client_ports]

    @property
    def url(self) -> str:
        """Every member, comma-separated: what --cluster and --etcd take."""
        return ",".join(self.urls)

    def _command(self, i: int) -> list[str]:
        peers = ",".join(
            f"{name}=http://{self.host}:{port}" for name, port in zip(self.names, self.peer_ports,
                                                                      strict=True))
        client = self.urls[i]
        peer = f"http://{self.host}:{self.peer_ports[i]}"
        return [
            self.binary, "--name", self.names[i], "--data-dir", str(self.root / self.names[i]),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", peers, "--initial-cluster-state", "new",
            "--initial-cluster-token", f"vdsm-net-test-{self.peer_ports[0]}",
            "--heartbeat-interval", self.timing[0], "--election-timeout", self.timing[1],
        ]

    def start(self, i: int | None = None) -> None:
        """Start one member (or all) and wait until each started one serves clients."""
        which = range(len(self.names)) if i is None else [i]
        for k in which:
            if self.procs[k] is None:
                log = open(self.root / f"{self.names[k]}.log", "ab")  # noqa: SIM115
                self.procs[k] = subprocess.Popen(self._command(k), stdout=log, stderr=log)
                log.close()
        for k in which:
            self.wait_serving(k)

    def wait_serving(self, i: int, timeout: float = START_TIMEOUT) -> None:
        """Until the member answers a linearizable read (it has a leader)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[i]
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"etcd {self.names[i]} exited: {self.log(i)[-2000:]}")
            if self._health(i):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"etcd {self.names[i]} not serving in {timeout} s: {self.log(i)[-2000:]}")

    def _health(self, i: int) -> bool:
        """GET /health is true once the member has a leader and can serve a read."""
        try:
            with socket.create_connection((self.host, self.client_ports[i]), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        except OSError:
            return False
        return b'"health":"true"' in data

    def stop(self, i: int | None = None) -> None:
        which = range(len(self.names)) if i is None else [i]
        for k in which:
            proc = self.procs[k]
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                self.procs[k] = None

    def log(self, i: int) -> str:
        path = self.root / f"{self.names[i]}.log"
        return path.read_text(errors="replace") if path.exists() else ""
