"""What the engine's Java client showed, pinned on the wire (issue 14, item 4).

vdsm-jsonrpc-java reads one TLS record per poll of a connection and comes back to it only after
a 1 s poll timeout when nothing new arrived. So what the server sends together must travel in
one TLS record, and nothing it sends may be a record without a frame in it (a TLS 1.3 session
ticket). These tests read the server's output record by record (RecordReader).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.client import Client, ServerError
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.stomp.broker import EVENT_QUEUE, RESPONSE_QUEUE
from rpc.stomp.codec import Frame, encode_frame
from rpc.tls.context import client_ssl_context
from tests.unit.rpc.rpc_helpers import WAIT, RecordReader, request

HOST_CONN = "|net|host_conn|no_id"
REQUESTS = "jms.topic.vdsm_requests"


@pytest.fixture(scope="module")
def engine_server(pki: Path) -> Iterator[BackgroundServer]:
    """A server whose setupNetworks publishes |net|host_conn|no_id while it runs, as the
    agent's does when it changed something."""
    srv: StompServer

    def setup_networks(networks: dict[str, Any], bondings: dict[str, Any],
                       options: dict[str, Any]) -> dict[str, Any]:
        srv.publish_event(HOST_CONN, {})
        return {"code": 0, "message": "Done"}

    disp = Dispatcher({"Host.setupNetworks": setup_networks})
    disp.register("Host.ping2", lambda: True, inline=True)
    disp.register("Host.getStats", lambda: {"cpu": 1})  # in the thread pool
    srv = StompServer(disp, server_ssl_context(pki), "127.0.0.1", 0)
    with BackgroundServer(srv) as bg:
        yield bg


def engine_connection(port: int, pki: Path) -> RecordReader:
    """The engine's order: SUBSCRIBE responses and events, then CONNECT; CONNECTED is read."""
    conn = RecordReader(port, client_ssl_context(pki))
    conn.send(encode_frame("SUBSCRIBE", {"destination": RESPONSE_QUEUE, "id": "r",
                                         "ack": "auto"})
              + encode_frame("SUBSCRIBE", {"destination": EVENT_QUEUE, "id": "e", "ack": "auto"})
              + encode_frame("CONNECT", {"accept-version": "1.2", "host": "engine"}))
    (connected,) = conn.frames()
    assert connected.command == "CONNECTED"
    return conn


def send_request(conn: RecordReader, *reqs: dict[str, Any]) -> None:
    headers = {"destination": REQUESTS, "reply-to": RESPONSE_QUEUE}
    conn.send(b"".join(encode_frame("SEND", headers, json.dumps(r)) for r in reqs))


def test_no_session_ticket_follows_the_handshake(engine_server: BackgroundServer,
                                                 pki: Path) -> None:
    conn = engine_connection(engine_server.port, pki)
    send_request(conn, request("Host.ping2", req_id="p"))
    (reply,) = conn.frames()  # no ticket record came before CONNECTED or this reply
    assert json.loads(reply.body or b"")["result"] is True
    session = conn.tls.session
    assert conn.tls.version() == "TLSv1.3" and session is not None and not session.has_ticket
    conn.close()


@contextlib.contextmanager
def plain_tls_server(pki: Path, tickets: int, *sends: bytes) -> Iterator[RecordReader]:
    """A blocking TLS server (our context, ``tickets`` session tickets) that sends each of
    ``sends`` with its own write; a RecordReader connected to it."""
    ctx = server_ssl_context(pki)
    ctx.num_tickets = tickets
    lsock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        raw, _ = lsock.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_side=True) as s:
            for data in sends:
                s.sendall(data)
            s.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conn = RecordReader(lsock.getsockname()[1], client_ssl_context(pki))
    try:
        yield conn
    finally:
        conn.close()
        thread.join(WAIT)
        lsock.close()


def test_the_ticket_check_sees_tickets_when_a_server_sends_them(pki: Path) -> None:
    """The control for the test above: the same reader, a server context with tickets on."""
    with plain_tls_server(pki, 2, b"hello") as conn:
        records = [conn.record() for _ in range(3)]
        session = conn.tls.session
        assert records == [b"", b"", b"hello"] and session is not None and session.has_ticket


def test_the_reply_comes_before_its_event_in_one_record(engine_server: BackgroundServer,
                                                        pki: Path) -> None:
    conn = engine_connection(engine_server.port, pki)
    other = engine_connection(engine_server.port, pki)  # an engine on another connection
    send_request(conn, request("Host.setupNetworks",
                               {"networks": {}, "bondings": {}, "options": {}}, "s"))
    reply, event = conn.frames()
    assert reply.headers["subscription"] == "r"
    assert json.loads(reply.body or b"") == {
        "jsonrpc": "2.0", "id": "s", "result": {"code": 0, "message": "Done"}}
    assert event.headers["subscription"] == "e"
    assert json.loads(event.body or b"")["method"] == HOST_CONN
    (seen,) = other.frames()
    assert json.loads(seen.body or b"")["method"] == HOST_CONN
    conn.close()
    other.close()


def test_frames_ready_together_leave_in_one_record(engine_server: BackgroundServer,
                                                   pki: Path) -> None:
    conn = engine_connection(engine_server.port, pki)
    send_request(conn, *(request("Host.ping2", req_id=f"p{i}") for i in range(3)))
    assert [json.loads(f.body or b"")["id"] for f in conn.frames()] == ["p0", "p1", "p2"]
    # a batch answered in the thread pool: one reply frame, in one record of its own
    conn.send(encode_frame("SEND", {"destination": REQUESTS, "reply-to": RESPONSE_QUEUE},
                           json.dumps([request("Host.getStats", req_id="g"),
                                       request("Host.ping2", req_id="q")])))
    (batch,) = conn.frames()
    assert [r["id"] for r in json.loads(batch.body or b"")] == ["g", "q"]
    conn.close()


def _message_ids(frames: list[Frame]) -> list[str]:
    assert frames and all(f.command == "MESSAGE" for f in frames)
    return [f.headers["message-id"] for f in frames]


def test_every_message_frame_has_its_own_message_id(engine_server: BackgroundServer,
                                                    pki: Path) -> None:
    conn = engine_connection(engine_server.port, pki)
    other = engine_connection(engine_server.port, pki)
    send_request(conn, request("Host.ping2", req_id="a"), request("Host.ping2", req_id="b"))
    ids = _message_ids(conn.frames())
    send_request(conn, request("Host.ping2", req_id="c"))  # the fast path's reply
    ids += _message_ids(conn.frames())
    send_request(conn, request("Host.setupNetworks",
                               {"networks": {}, "bondings": {}, "options": {}}, "s"))
    ids += _message_ids(conn.frames())
    ids += _message_ids(other.frames())  # the event, as the other connection got it
    # a SEND copied to the sender's own subscription, with a made-up message-id of its own
    conn.send(encode_frame("SUBSCRIBE", {"destination": "tap", "id": "t"})
              + encode_frame("SEND", {"destination": "tap.x", "message-id": "forged"}, "hi"))
    (copy,) = conn.frames()
    assert copy.headers["subscription"] == "t" and copy.body == b"hi"
    ids += _message_ids([copy])
    assert len(ids) == 7 and len(set(ids)) == 7 and "forged" not in ids
    conn.close()
    other.close()


def test_params_that_do_not_fit_answer_invalid_params(engine_server: BackgroundServer,
                                                      pki: Path) -> None:
    with Client.connect("127.0.0.1", engine_server.port, pki_dir=pki, timeout=WAIT) as cli:
        with pytest.raises(ServerError) as err:
            cli.call("Host.setupNetworks", {"networks": {}, "bondings": {}})
        assert err.value.code == -32602 and "'options'" in err.value.message
        with pytest.raises(ServerError) as err:
            cli.call("Host.ping2", {"unexpected": 1})  # on the fast path
        assert err.value.code == -32602 and "'unexpected'" in err.value.message
        assert "TypeError" not in err.value.message
        assert cli.call("Host.ping2") is True


def test_records_are_decrypted_one_by_one(pki: Path) -> None:
    """RecordReader really cuts at record boundaries: two sends are two records."""
    with plain_tls_server(pki, 0, b"one", b"two") as conn:
        assert [conn.record(), conn.record()] == [b"one", b"two"]
