"""The wire over loopback mutual TLS: the engine's and vdsm-client's orders, stomp.py, events."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import stomp

from rpc.background import BackgroundServer
from rpc.client import Client, ServerError
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.stomp.broker import RESPONSE_QUEUE
from rpc.tls.context import client_files
from tests.unit.rpc.conftest import Verbs
from tests.unit.rpc.rpc_helpers import (
    WAIT,
    FrameReader,
    body_json,
    connect_raw,
    ping_ok,
    request,
    send,
)


def test_engine_order_single_object(server: BackgroundServer, pki: Path) -> None:
    sock = connect_raw(server.port, pki)
    r = FrameReader(sock)
    send(sock, "SUBSCRIBE", {"destination": RESPONSE_QUEUE, "id": str(uuid.uuid4()), "ack": "auto"})
    send(sock, "SUBSCRIBE", {"destination": "jms.queue.events", "id": "ev", "ack": "auto"})
    send(sock, "CONNECT", {"accept-version": "1.2", "host": "engine", "heart-beat": "0,0"})
    connected = r.next()
    assert connected.command == "CONNECTED"
    assert connected.headers == {"version": "1.2", "heart-beat": "0,0"}
    req = request("Host.ping2")
    headers = {"destination": "jms.topic.vdsm_requests", "reply-to": RESPONSE_QUEUE}
    send(sock, "SEND", headers, json.dumps(req))
    msg = r.next()
    assert msg.command == "MESSAGE" and msg.headers["destination"] == RESPONSE_QUEUE
    assert msg.text() == json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": True})
    send(sock, "DISCONNECT", {"receipt": "bye"})
    assert r.next().headers == {"receipt-id": "bye"}
    sock.close()


def test_vdsm_client_order_one_element_array(server: BackgroundServer, pki: Path) -> None:
    sock = connect_raw(server.port, pki)
    r = FrameReader(sock)
    respq = str(uuid.uuid4())
    send(sock, "CONNECT", {"accept-version": "1.2", "heart-beat": "0,24000"})
    send(sock, "SUBSCRIBE", {"destination": respq, "ack": "auto", "id": str(uuid.uuid4())})
    assert r.next().headers["heart-beat"] == "24000,0"
    req = request("Host.echo", {"text": "caps"})
    headers = {
        "destination": "jms.topic.vdsm_requests",
        "content-type": "application/json",
        "reply-to": respq,
    }
    send(sock, "SEND", headers, json.dumps([req]))
    assert body_json(r.next()) == {"jsonrpc": "2.0", "id": req["id"], "result": "caps"}
    # and we do better than vdsm: two requests get an array back
    reqs = [request("Host.ping2"), request("Test.fail")]
    send(sock, "SEND", headers, json.dumps(reqs))
    out = body_json(r.next())
    assert [o["id"] for o in out] == [q["id"] for q in reqs]
    assert out[0]["result"] is True and out[1]["error"]["code"] == 23
    sock.close()


def test_client_library_calls_errors_and_timeouts(server: BackgroundServer, pki: Path) -> None:
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        assert cli.call("Host.ping2") is True
        assert cli.call("Host.echo", ["x", 1]) == ["x", 1]
        with pytest.raises(ServerError) as err:
            cli.call("Test.fail", {"code": 25, "message": "bad bond"})
        assert (err.value.code, err.value.message) == (25, "bad bond")
        with pytest.raises(ServerError) as err:
            cli.call("Test.crash")
        assert err.value.code == -32603


def test_ctx_carries_the_local_address_and_flow_id(server: BackgroundServer, pki: Path) -> None:
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        who = cli.call("Test.whoami", flow_id="flow-9")
    assert who["local"] == ["127.0.0.1", server.port]
    assert who["peer"][0] == "127.0.0.1" and who["flow"] == "flow-9"


def test_slow_verb_does_not_block_ping(server: BackgroundServer, pki: Path, verbs: Verbs) -> None:
    verbs.gate.clear()
    verbs.slow_started.clear()
    results: queue.Queue[Any] = queue.Queue()
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        t = threading.Thread(target=lambda: results.put(cli.call("Test.slow", timeout=30)))
        t.start()
        assert verbs.slow_started.wait(WAIT)
        assert cli.call("Host.ping2") is True  # answered while the slow verb is still held
        assert results.empty()
        verbs.gate.set()
        t.join(WAIT)
        assert results.get_nowait() == "slow done"


def test_events_reach_subscribers_with_notify_time(server: BackgroundServer, pki: Path) -> None:
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        cli.subscribe_events(lambda m, p: got.put((m, p)))
        cli.call("Host.ping2")  # the SUBSCRIBE went before this SEND, so it is registered
        before = 2**31 - 1 + int(time.monotonic() * 1000)
        threading.Thread(
            target=server.server.publish_event, args=("|net|host_conn|no_id", {"a": 1})
        ).start()
        method, params = got.get(timeout=WAIT)
    assert method == "|net|host_conn|no_id"
    assert params["a"] == 1 and params["notify_time"] >= before


def test_stomp_py_interop_over_mutual_tls(server: BackgroundServer, pki: Path) -> None:
    files = client_files(pki)
    conn = stomp.Connection12([("127.0.0.1", server.port)], heartbeats=(0, 0))
    conn.set_ssl(
        for_hosts=[("127.0.0.1", server.port)],
        key_file=str(files.key),
        cert_file=str(files.cert),
        ca_certs=str(files.ca),
    )
    replies: queue.Queue[str] = queue.Queue()

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            replies.put(frame.body)

    conn.set_listener("l", Listener())
    conn.connect(wait=True)
    try:
        respq = f"interop.{uuid.uuid4()}"
        conn.subscribe(destination=respq, id="1", ack="auto")
        req = request("Host.ping2")
        conn.send(
            destination="jms.topic.vdsm_requests",
            body=json.dumps(req),
            content_type="application/json",
            headers={"reply-to": respq},
        )
        body = replies.get(timeout=WAIT)
        assert json.loads(body) == {"jsonrpc": "2.0", "id": req["id"], "result": True}
    finally:
        conn.disconnect()


@pytest.fixture
def hb_server(pki: Path) -> Any:
    srv = StompServer(
        Dispatcher({"Host.ping2": lambda: None}), server_ssl_context(pki), "127.0.0.1", 0
    )
    with BackgroundServer(srv) as bg:
        yield bg


def test_server_sends_heartbeats_when_asked(hb_server: BackgroundServer, pki: Path) -> None:
    sock = connect_raw(hb_server.port, pki)
    r = FrameReader(sock)
    send(sock, "CONNECT", {"accept-version": "1.2", "heart-beat": "0,1000"})
    assert r.next().headers["heart-beat"] == "1000,0"
    sock.settimeout(WAIT)
    assert sock.recv(16) == b"\n"
    assert sock.recv(16) == b"\n"
    sock.close()


def test_server_closes_a_silent_client_that_promised_heartbeats(
    hb_server: BackgroundServer, pki: Path
) -> None:
    sock = connect_raw(hb_server.port, pki)
    r = FrameReader(sock)
    send(sock, "CONNECT", {"accept-version": "1.2", "heart-beat": "1000,0"})
    assert r.next().headers["heart-beat"] == "0,1000"
    frames = r.until_closed(WAIT)
    assert [f.headers.get("message") for f in frames] == ["heart-beat timeout"]
    assert ping_ok(hb_server.port, pki)


def test_client_heartbeats_keep_the_connection(hb_server: BackgroundServer, pki: Path) -> None:
    sock = connect_raw(hb_server.port, pki)
    r = FrameReader(sock)
    send(sock, "CONNECT", {"accept-version": "1.2", "heart-beat": "1000,0"})
    r.next()
    for _ in range(6):  # 3 s of beats, twice the 1.5 s the server would tolerate in silence
        sock.sendall(b"\n")
        time.sleep(0.5)
    send(sock, "SUBSCRIBE", {"destination": "q", "id": "1"})
    send(
        sock,
        "SEND",
        {"destination": "jms.topic.vdsm_requests", "reply-to": "q"},
        json.dumps(request("Host.ping2", req_id="hb")),
    )
    assert body_json(r.next())["id"] == "hb"
    sock.close()
