"""Inline verbs run on the event loop, everything else in the pool; the TLS read size;
replies to pipelined requests are coalesced without losing order or a final ERROR."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.client import Client
from rpc.jsonrpc import METHOD_NOT_FOUND, Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.tls.context import DEFAULT_TLS_READ_BUFFER
from rpc.tls.direct import TlsTransport
from tests.unit.rpc.rpc_helpers import WAIT, FrameReader, body_json, connect_raw, request, send

LOOP_THREAD = "rpc-server"  # BackgroundServer's thread: the server's event loop
REQUESTS = "jms.topic.vdsm_requests"


class ThreadVerbs:
    """Verbs that report the thread they ran on; ``slow`` is held by a gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.slow_started = threading.Event()

    def where(self, pad: str = "") -> str:
        return threading.current_thread().name

    def slow(self) -> str:
        self.slow_started.set()
        self.gate.wait(30)
        return threading.current_thread().name


def _dispatcher(verbs: ThreadVerbs) -> Dispatcher:
    d = Dispatcher()
    d.register("Host.ping2", verbs.where, inline=True)
    d.register("Host.where", verbs.where)
    d.register("Test.slow", verbs.slow)
    return d


def _serve(pki: Path, verbs: ThreadVerbs, **opts: Any) -> BackgroundServer:
    srv = StompServer(_dispatcher(verbs), server_ssl_context(pki), "127.0.0.1", 0, **opts)
    return BackgroundServer(srv)


@pytest.fixture
def verbs() -> ThreadVerbs:
    return ThreadVerbs()


@pytest.fixture
def inline_server(pki: Path, verbs: ThreadVerbs) -> Iterator[BackgroundServer]:
    with _serve(pki, verbs, tls_read_buffer=1024) as bg:
        yield bg
    verbs.gate.set()


def test_dispatcher_tells_inline_requests_apart() -> None:
    d = Dispatcher({"A.inline": lambda: 1, "A.pool": lambda: 2})
    d.mark_inline("A.inline")
    ok = {"jsonrpc": "2.0", "method": "A.inline", "id": 1}
    pool = {"jsonrpc": "2.0", "method": "A.pool", "id": 2}
    assert d.runs_inline(ok)
    assert not d.runs_inline(pool)
    assert not d.runs_inline([ok, pool])  # one pool verb sends the whole batch to the pool
    # Error answers cost nothing to build: unknown methods and junk stay inline.
    assert d.runs_inline([ok, {"jsonrpc": "2.0", "method": "No.such", "id": 3}, 7, []])
    d.register("A.pool", lambda: 2, inline=True)
    assert d.runs_inline(pool)
    with pytest.raises(KeyError):
        d.mark_inline("No.such")
    reply = d.run([ok, {"jsonrpc": "2.0", "method": "No.such", "id": 3}])
    assert reply is not None
    answers = json.loads(reply.text)
    assert answers[0]["result"] == 1 and answers[1]["error"]["code"] == METHOD_NOT_FOUND


def test_inline_verb_runs_on_the_loop_and_others_in_the_pool(
    inline_server: BackgroundServer, pki: Path
) -> None:
    with Client.connect("127.0.0.1", inline_server.port, pki_dir=pki, timeout=WAIT) as cli:
        assert cli.call("Host.ping2") == LOOP_THREAD
        assert cli.call("Host.where").startswith("rpc-verb")
        # A body over inline_limit is never decoded on the loop: it goes to the pool.
        assert cli.call("Host.ping2", {"pad": "x" * 9000}).startswith("rpc-verb")


def test_long_verb_never_blocks_the_loop(
    inline_server: BackgroundServer, pki: Path, verbs: ThreadVerbs
) -> None:
    results: queue.Queue[Any] = queue.Queue()
    with Client.connect("127.0.0.1", inline_server.port, pki_dir=pki, timeout=WAIT) as cli:
        t = threading.Thread(target=lambda: results.put(cli.call("Test.slow", timeout=30)))
        t.start()
        assert verbs.slow_started.wait(WAIT)
        assert cli.call("Host.ping2") == LOOP_THREAD  # the loop answers while slow is held
        assert cli.call("Host.where").startswith("rpc-verb")  # and the pool still has room
        assert results.empty()
        verbs.gate.set()
        t.join(WAIT)
        assert results.get_nowait().startswith("rpc-verb")


def test_inline_limit_zero_sends_everything_to_the_pool(pki: Path, verbs: ThreadVerbs) -> None:
    with (
        _serve(pki, verbs, inline_limit=0) as bg,
        Client.connect("127.0.0.1", bg.port, pki_dir=pki, timeout=WAIT) as cli,
    ):
        assert cli.call("Host.ping2").startswith("rpc-verb")


def test_tls_connections_use_the_server_read_size(
    inline_server: BackgroundServer, pki: Path
) -> None:
    with Client.connect("127.0.0.1", inline_server.port, pki_dir=pki, timeout=WAIT) as cli:
        cli.call("Host.ping2")
        transports = [c.transport for c in inline_server.server.connections]
        assert transports and all(isinstance(t, TlsTransport) for t in transports)
        assert {t._read_size for t in transports} == {1024}  # type: ignore[union-attr]
        # TLS details are there for whoever asks, as with asyncio's transports.
        assert transports[0].get_extra_info("peercert") is not None  # type: ignore[union-attr]
    assert DEFAULT_TLS_READ_BUFFER == 32 * 1024


def test_frames_far_larger_than_the_read_buffer(
    inline_server: BackgroundServer, pki: Path
) -> None:
    big = "y" * 300_000  # about 300 reads of the 1 KiB buffer
    with Client.connect("127.0.0.1", inline_server.port, pki_dir=pki, timeout=WAIT) as cli:
        assert cli.call("Host.where", {"pad": big}).startswith("rpc-verb")


def _subscribed(port: int, pki: Path) -> tuple[Any, FrameReader]:
    sock = connect_raw(port, pki)
    send(sock, "CONNECT", {"accept-version": "1.2"})
    send(sock, "SUBSCRIBE", {"destination": "replies", "id": "s1"})
    reader = FrameReader(sock)
    assert reader.next().command == "CONNECTED"
    return sock, reader


def _ping_frame(n: int) -> bytes:
    from rpc.stomp.codec import encode_frame

    headers = {"destination": REQUESTS, "reply-to": "replies"}
    return encode_frame("SEND", headers, json.dumps(request("Host.ping2", req_id=n)))


def test_pipelined_requests_get_every_reply_in_order(
    inline_server: BackgroundServer, pki: Path
) -> None:
    sock, reader = _subscribed(inline_server.port, pki)
    with sock:
        sock.sendall(b"".join(_ping_frame(n) for n in range(50)))
        ids = [body_json(reader.next())["id"] for _ in range(50)]
    assert ids == list(range(50))


def test_error_after_coalesced_replies_still_arrives_before_close(
    inline_server: BackgroundServer, pki: Path
) -> None:
    sock, reader = _subscribed(inline_server.port, pki)
    with sock:
        sock.sendall(_ping_frame(1) + _ping_frame(2) + b"BOGUS\n\n\x00")
        frames = reader.until_closed()
    assert [f.command for f in frames] == ["MESSAGE", "MESSAGE", "ERROR"]
    assert [body_json(f)["id"] for f in frames[:2]] == [1, 2]
