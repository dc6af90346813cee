"""Every hostile wire case of tests/unit/rpc/hostile_cases.py, over real loopback mutual TLS.

Each case gets exactly the frames its table entry names (strict JSON in every reply), the
server keeps serving another client (a fresh connection's Host.ping2), and nothing is logged
with a traceback or at ERROR level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.server import StompServer, server_ssl_context
from rpc.stomp.codec import Frame
from tests.unit.rpc.conftest import Verbs, make_dispatcher
from tests.unit.rpc.hostile_cases import CASES, LIMITS, UNSET, Case, Want
from tests.unit.rpc.rpc_helpers import WAIT, FrameReader, connect_raw, ping_ok, send


@pytest.fixture(scope="module")
def hostile(pki: Path) -> Iterator[BackgroundServer]:
    dispatcher = make_dispatcher(Verbs())
    dispatcher.register("Test.nan", lambda: float("nan"))
    dispatcher.mark_inline("Host.ping", "Host.ping2")  # as the agent does: answered on the loop
    srv = StompServer(dispatcher, server_ssl_context(pki), "127.0.0.1", 0, **LIMITS)
    with BackgroundServer(srv) as bg:
        yield bg


def _not_json(name: str) -> Any:
    raise AssertionError(f"{name} in a reply is not JSON")


def _check(got: Frame, want: Want) -> None:
    assert got.command == want.command, (got, want)
    if want.message is not None:
        assert got.headers["message"] == got.text() == want.message
    for key, value in want.headers.items():
        assert got.headers.get(key) == value, (key, got.headers)
    if want.rid is UNSET and want.code is None and want.result is UNSET:
        return
    reply = json.loads(got.text(), parse_constant=_not_json)
    assert reply["jsonrpc"] == "2.0" and reply["id"] == want.rid
    if want.code is not None:
        assert reply["error"]["code"] == want.code, reply
    else:
        assert reply["result"] == want.result, reply


def _send_all(sock: ssl.SSLSocket, chunks: tuple[bytes, ...]) -> None:
    for chunk in chunks:
        with contextlib.suppress(ssl.SSLError, ConnectionResetError, BrokenPipeError):
            sock.sendall(chunk)


def _still_works(reader: FrameReader) -> None:
    """The connection answers a DISCONNECT receipt, and sent nothing unexpected before it."""
    send(reader.sock, "DISCONNECT", {"receipt": "still-here"})
    after = reader.next()
    assert (after.command, after.headers) == ("RECEIPT", {"receipt-id": "still-here"}), after


def _run(port: int, pki: Path, case: Case) -> None:
    sock = connect_raw(port, pki)
    reader = FrameReader(sock)
    _send_all(sock, case.send)
    if case.closed:
        got = reader.until_closed(WAIT)
        assert [f.command for f in got] == [w.command for w in case.expect], got
        for frame, want in zip(got, case.expect, strict=True):
            _check(frame, want)
    else:
        for want in case.expect:
            _check(reader.next(), want)
        _still_works(reader)
    sock.close()


@pytest.mark.parametrize("case", CASES, ids=[f"row {c.row}: {c.name}" for c in CASES])
def test_hostile_wire_case(
    case: Case, hostile: BackgroundServer, pki: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bystander: FrameReader | None = None
    if case.bystander:
        bystander = FrameReader(connect_raw(hostile.port, pki))
        bystander.sock.sendall(case.bystander)
        assert bystander.next().command == "CONNECTED"
    _run(hostile.port, pki, case)
    if bystander is not None:
        _still_works(bystander)  # nothing of the case reached it
        bystander.sock.close()
    assert ping_ok(hostile.port, pki)
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [] and "Traceback" not in caplog.text
