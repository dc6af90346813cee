"""The agent under test as a real process: ``vdsm-netd --backend netlink --netns NS``.

It listens on 127.0.0.1 port 0, so the kernel picks a free port and no other test can race for
it; the port is read back from the agent's own ``listening on HOST:PORT`` log line. Its stdout and
stderr go to one file, which the conftest attaches to any failing test's report.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rpc.client import Client, ClientError, ServerError

VDSM_NETD = str(Path(sys.executable).parent / "vdsm-netd")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
RECOVERY = 99
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_BOOT_WRITES = re.compile(r"boot spec applied with (\d+) kernel writes")

STARTED: list[Agent] = []
"""Every agent of the session, in start order (the conftest reports their logs on failure)."""


class AgentError(AssertionError):
    """The agent did not start, did not get ready, or died; the message carries its log."""


class Agent:
    def __init__(
        self, pki: Path, netns: str, log_path: Path, boot_spec: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.extra = extra  # more vdsm-netd flags
        self.pki = pki
        self.netns = netns
        self.log_path = log_path
        self.boot_spec = boot_spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.started_at = 0.0
        self.stopped_at: float | None = None
        self.returncode: int | None = None
        self._log_offset = 0  # where this run's lines start in the (shared) log file

    def argv(self) -> list[str]:
        argv = [VDSM_NETD, "--backend", "netlink", "--netns", self.netns,
                "--listen", "127.0.0.1:0", "--pki", str(self.pki)]
        if self.boot_spec is not None:
            argv += ["--boot-spec", str(self.boot_spec)]
        return argv + list(self.extra)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> Agent:
        """Start the process, wait for its ``listening on`` line, then until ping2 answers."""
        self.started_at = time.monotonic()
        self.stopped_at = None
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            log.write(f"=== {' '.join(self.argv())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        STARTED.append(self)
        self.port = self._wait_listening()
        self._wait_ready()
        return self

    def _wait_listening(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log(since_start=True))
            if found:
                return int(found.group(2))
            self._check_alive("before listening")
            time.sleep(0.05)
        raise AgentError(f"no 'listening on' line within {START_TIMEOUT} s\n{self.log()}")

    def _wait_ready(self) -> None:
        """ping2 answers 99 until the boot spec is in; wait for a plain True."""
        deadline = time.monotonic() + START_TIMEOUT
        with self.client() as cli:
            while time.monotonic() < deadline:
                self._check_alive("before ready")
                try:
                    if cli.call("Host.ping2", timeout=START_TIMEOUT) is True:
                        return
                except ServerError as exc:
                    if exc.code != RECOVERY:
                        raise
                time.sleep(0.05)
        raise AgentError(f"ping2 did not succeed within {START_TIMEOUT} s\n{self.log()}")

    def _check_alive(self, when: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AgentError(f"vdsm-netd exited with {self.proc.returncode} {when}\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT s. The exit status (negative: signal)."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stopped_at = time.monotonic()
        self.returncode = proc.returncode
        return proc.returncode

    # -- use -------------------------------------------------------------------------------
    def client(self, timeout: float = 60.0) -> Client:
        """A new mutual-TLS connection with the engine's certificate."""
        try:
            return Client.connect("127.0.0.1", self.port, pki_dir=self.pki, timeout=timeout)
        except ClientError as exc:
            raise AgentError(f"cannot connect: {exc}\n{self.log()}") from exc

    def log(self, since_start: bool = False) -> str:
        """The log file; with ``since_start``, only the lines of the latest start."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        return data[self._log_offset if since_start else 0:].decode(errors="replace")

    def boot_writes(self) -> list[int]:
        """N of the ``boot spec applied with N kernel writes`` line(s) of the latest start."""
        return [int(n) for n in _BOOT_WRITES.findall(self.log(since_start=True))]


def call(agent: Agent, method: str, params: dict[str, Any] | None = None) -> Any:
    """One call on a fresh connection."""
    with agent.client() as cli:
        return cli.call(method, params)
