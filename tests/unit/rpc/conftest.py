"""Fixtures for the wire tests: a dev PKI and an in-process server on 127.0.0.1, port 0."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.jsonrpc import CallContext, Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.tls.pki import init_pki

# Small limits so the hostile tests run quickly; the defaults are tested at the codec level.
TEST_MAX_FRAME = 256 * 1024
TEST_TIMEOUT = 1.5


class AppError(Exception):
    """Duck-typed application error, shaped like vdsm_net.model.errors.NetworkError."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Verbs:
    """The test verbs: pings, an echo, a slow verb held by a gate, failures, the context."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.slow_started = threading.Event()

    def ping2(self) -> None:
        return None

    def echo(self, text: str = "", *rest: Any) -> Any:
        return [text, *rest] if rest else text

    def slow(self) -> str:
        self.slow_started.set()
        self.gate.wait(30)
        return "slow done"

    def fail(self, code: int = 23, message: str = "Nic dummy_x does not exist") -> None:
        raise AppError(int(code), message)

    def crash(self) -> None:
        raise ValueError("boom")

    def whoami(self, _ctx: CallContext) -> dict[str, Any]:
        return {
            "local": list(_ctx.local_address or ()),
            "peer": list(_ctx.peer_address or ()),
            "flow": _ctx.flow_id,
            "conn": _ctx.connection_id,
        }


def make_dispatcher(verbs: Verbs) -> Dispatcher:
    d = Dispatcher(
        {
            "Host.ping2": verbs.ping2,
            "Host.ping": verbs.ping2,
            "Host.echo": verbs.echo,
            "Test.slow": verbs.slow,
            "Test.fail": verbs.fail,
            "Test.crash": verbs.crash,
        }
    )
    d.register("Test.whoami", verbs.whoami, context=True)
    return d


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out


@pytest.fixture(scope="session")
def verbs() -> Verbs:
    return Verbs()


@pytest.fixture(scope="session")
def server(pki: Path, verbs: Verbs) -> Iterator[BackgroundServer]:
    srv = StompServer(
        make_dispatcher(verbs),
        server_ssl_context(pki),
        "127.0.0.1",
        0,
        max_frame_size=TEST_MAX_FRAME,
        handshake_timeout=TEST_TIMEOUT,
        detect_timeout=TEST_TIMEOUT,
    )
    with BackgroundServer(srv) as bg:
        yield bg
