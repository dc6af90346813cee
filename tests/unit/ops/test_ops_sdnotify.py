"""sd_notify over our own NOTIFY_SOCKET: the protocol by itself, then vdsm-netd's READY=1 (after
it listens and has its signal handlers), WATCHDOG=1 when asked for, and STOPPING=1."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.client import Client
from rpc.tls.context import client_ssl_context
from tests.common.agent_proc import AgentProc, Pki
from vdsm_net.ops.sdnotify import Notifier, watchdog_interval

WAIT = 60.0  # liveness bound


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(WAIT)
    yield sock, path
    sock.close()


def _messages(sock: socket.socket, until: str) -> list[dict[str, str]]:
    out = []
    while True:
        data = sock.recv(4096).decode()
        msg = dict(line.split("=", 1) for line in data.splitlines())
        out.append(msg)
        if until in msg:
            return out


def test_the_notifier_sends_key_value_lines(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.ready("up")
    assert _messages(sock, "READY") == [
        {"READY": "1", "STATUS": "up", "MAINPID": str(os.getpid())}]
    assert notifier.stopping()
    assert _messages(sock, "STOPPING") == [{"STOPPING": "1", "STATUS": "stopping"}]


def test_an_abstract_socket_name_starts_with_at() -> None:
    name = f"vdsm-net-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(WAIT)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_without_the_variable_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and not notifier.ready("up")


@pytest.mark.parametrize(("env", "expected"), [
    ({"WATCHDOG_USEC": "2000000"}, 2.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 2.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_the_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected


def test_vdsm_netd_is_ready_when_it_answers_then_watchdogs_then_stops(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    pki = Pki(tmp_path / "pki")
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    with AgentProc(pki.root, env=env) as agent:
        ready = _messages(sock, "READY")[-1]
        assert ready["READY"] == "1" and ready["MAINPID"] == str(agent.proc.pid)
        # READY came after the listener and the verbs: a call answers at once
        with Client.connect("127.0.0.1", agent.port,
                            ssl_context=client_ssl_context(pki.root), timeout=WAIT) as cli:
            assert cli.call("Host.ping2", {}) is True
        # and after the signal handlers: SIGHUP no longer kills it (it was exit 129)
        agent.signal(signal.SIGHUP)
        assert _messages(sock, "WATCHDOG")[-1] == {"WATCHDOG": "1"}
        agent.wait_for(re.compile("reload: PKI"))
        assert agent.proc.poll() is None
        agent.signal(signal.SIGTERM)
        assert "STOPPING" in _messages(sock, "STOPPING")[-1]
        assert agent.proc.wait(timeout=WAIT) == 0  # the one SIGTERM stops it cleanly
