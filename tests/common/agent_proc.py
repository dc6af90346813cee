"""vdsm-netd as a child process on the simulated kernel, for the service tests and the package
tier: a dev PKI we hold the CA of (to rotate the host certificate), the port read from its
"listening on" line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rpc.tls.context import CA_FILE, ENGINE_CERT, ENGINE_KEY, HOST_CERT, HOST_KEY
from rpc.tls.pki import Issued, issue, make_ca

START_TIMEOUT = 60.0  # a liveness bound for a loaded machine, never a measurement
LISTENING = re.compile(r"listening on \S+:(\d+)")


class Pki:
    """vdsm's layout under ``root``, with the CA kept here so the host pair can be re-issued."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = make_ca()
        self._put(CA_FILE, self.ca.cert_pem())
        engine = issue(self.ca, "engine.example")
        self._put(ENGINE_CERT, engine.cert_pem())
        self._put(ENGINE_KEY, engine.key_pem())
        self.host = self.rotate("host-1.example")

    def rotate(self, cn: str) -> Issued:
        """A new host pair signed by the same CA, written in place (as certmonger would)."""
        host = issue(self.ca, cn, [cn, "localhost", "127.0.0.1"])
        self._put(HOST_KEY, host.key_pem())
        self._put(HOST_CERT, host.cert_pem())
        self.host = host
        return host

    def _put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


# the work tree's vdsm-netd, under the test run's interpreter
WORK_TREE_AGENT = (sys.executable, "-m", "vdsm_net.cli")


class AgentProc:
    """``with AgentProc(pki, [...]) as agent: agent.port ...``; stderr in ``lines``.
    ``command`` runs another vdsm-netd (the package tier's unpacked one)."""

    def __init__(self, pki: Path, args: Sequence[str] = (),
                 env: dict[str, str] | None = None,
                 command: Sequence[str] = WORK_TREE_AGENT) -> None:
        argv = [*command, "--listen", "127.0.0.1:0", "--pki",
                str(pki), "--backend", "memory", "--drift", "off", *args]
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True, env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait_for(LISTENING).group(1))
        self.wait_for(re.compile(r"\bready$"))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern[str], start: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    match = pattern.search(line)
                    if match:
                        return match
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"vdsm-netd exited: {self.lines}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern.pattern!r} in {self.lines}")
                self._cond.wait(min(left, 0.5))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=START_TIMEOUT)
        self._reader.join(timeout=5)
        return rc

    def __enter__(self) -> AgentProc:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()
