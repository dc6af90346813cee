"""Fuzzing: random and mutated frames and JSON-RPC bodies never crash anything.

The test run feeds over 10 000 generated inputs (most straight into the sans-IO codec and broker,
a few dozen over real TLS connections). ``RPC_FUZZ_SCALE=10`` runs ten times as many (the bench
mode: ``RPC_FUZZ_SCALE=10 .venv/bin/python -m pytest -q tests/unit/rpc/test_rpc_fuzz.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpc.background import BackgroundServer
from rpc.jsonrpc import Dispatcher
from rpc.stomp.codec import Parser, ProtocolError, encode_frame
from tests.unit.rpc.conftest import Verbs, make_dispatcher
from tests.unit.rpc.rpc_helpers import FrameReader, connect_raw, ping_ok
from tests.unit.rpc.test_rpc_broker import Harness

SCALE = int(os.environ.get("RPC_FUZZ_SCALE", "1"))
LIMIT = 4096


def fuzz(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


COMMANDS = ["CONNECT", "STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "DISCONNECT", "ACK", "MESSAGE"]
DESTS = ["jms.topic.vdsm_requests", "jms.topic.vdsm_irs_requests.x", "jms.queue.events", "q", "a.b"]
KEYS = [
    "destination",
    "id",
    "reply-to",
    "receipt",
    "accept-version",
    "heart-beat",
    "content-length",
    "ack",
    "x",
]


def rand_text(rng: random.Random, n: int = 8) -> str:
    alphabet = 'ab:\\\n\r.é\x00{}[]"1 '
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, n)))


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-(2**40), 2**40)
    if kind == 3:
        return rng.random() * 1e6
    if kind == 4:
        return rand_text(rng)
    if kind == 5:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rand_text(rng, 4): rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def rand_request(rng: random.Random) -> dict[str, Any]:
    req: dict[str, Any] = {}
    if rng.random() < 0.9:
        req["jsonrpc"] = rng.choice(["2.0", "2.0", "2.0", "1.0", 2])
    if rng.random() < 0.9:
        req["method"] = rng.choice(["Host.ping2", "Host.echo", "Test.fail", "Test.crash", "X.y", 5])
    if rng.random() < 0.7:
        req["params"] = (
            rng.choice([{}, [], {"text": "t"}, ["a", 1]])
            if rng.random() < 0.7
            else (rand_json(rng))
        )
    if rng.random() < 0.8:
        req["id"] = rng.choice([rand_text(rng), rng.randint(0, 99), None, rand_json(rng)])
    return req


def rand_body(rng: random.Random) -> str:
    kind = rng.randint(0, 3)
    if kind == 0:
        return json.dumps(rand_request(rng))
    if kind == 1:
        return json.dumps([rand_request(rng) for _ in range(rng.randint(0, 4))])
    if kind == 2:
        return json.dumps(rand_json(rng))
    return rand_text(rng, 40)


def rand_frame(rng: random.Random) -> bytes:
    headers = {}
    for _ in range(rng.randint(0, 5)):
        key = rng.choice(KEYS) if rng.random() < 0.8 else rand_text(rng, 6)
        value = rng.choice([*DESTS, "1.2", "1.0", "1000,1000", "5", "-1"])
        headers[key] = value if rng.random() < 0.8 else rand_text(rng, 6)
    body = rand_body(rng) if rng.random() < 0.7 else None
    return encode_frame(rng.choice(COMMANDS), headers, body)


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([0, 0, 1, 2, 4])):
        if not buf:
            break
        i = rng.randrange(len(buf))
        kind = rng.randint(0, 2)
        if kind == 0:
            buf[i] = rng.randrange(256)
        elif kind == 1:
            del buf[i]
        else:
            buf.insert(i, rng.choice(b"\x00\n:\\x"))
    return bytes(buf)


def frames_blob(rng: random.Random, n: int) -> bytes:
    return b"".join(mutate(rng, rand_frame(rng)) for _ in range(n))


def _parse_all(data: bytes, chunk: int) -> None:
    p = Parser(max_frame_size=LIMIT, max_headers=8, max_header_line=256)
    try:
        for i in range(0, len(data), chunk):
            p.feed(data[i : i + chunk])
            assert p.buffered <= LIMIT + chunk
    except ProtocolError:
        pass


@fuzz(1000)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_codec_random_bytes(data: bytes, chunk: int) -> None:
    _parse_all(data, chunk)


@fuzz(300)
@given(st.randoms(use_true_random=False), st.integers(1, 512))
def test_codec_mutated_frames(rng: random.Random, chunk: int) -> None:
    # 300 examples of 20 frames: 6 000 frames
    _parse_all(frames_blob(rng, 20), chunk)


@fuzz(200)
@given(st.randoms(use_true_random=False))
def test_broker_sessions(rng: random.Random) -> None:
    # 200 examples of 10 frames: 2 000 frames through the broker and the dispatcher
    h = Harness()
    s, link = h.open()
    listener, llink = h.open()
    listener.data_received(encode_frame("SUBSCRIBE", {"destination": "q", "id": "l"}))
    s.data_received(frames_blob(rng, 10))
    assert llink.out == []  # whatever one connection sends, another never sees it
    for frame in link.out:
        assert frame.command in {"CONNECTED", "ERROR", "MESSAGE", "RECEIPT"}
        if frame.command == "ERROR":
            assert frame.headers["message"] == frame.text()
    s.connection_lost()
    assert [sub.id for sub in h.broker.subscribers("q")] == ["l"]


DISPATCHER: Dispatcher = make_dispatcher(Verbs())


@fuzz(200)
@given(st.randoms(use_true_random=False))
def test_jsonrpc_bodies(rng: random.Random) -> None:
    # 200 examples of 10 bodies: 2 000 JSON-RPC bodies
    for _ in range(10):
        reply = DISPATCHER.dispatch(rand_body(rng))
        if reply is None:
            continue
        out = json.loads(reply.text)
        for resp in out if isinstance(out, list) else [out]:
            assert list(resp)[:2] == ["jsonrpc", "id"]
            assert ("result" in resp) != ("error" in resp)
            if "error" in resp:
                assert set(resp["error"]) == {"code", "message"}
                assert isinstance(resp["error"]["code"], int)


@fuzz(40)
@given(st.randoms(use_true_random=False))
def test_over_real_sockets(server: BackgroundServer, pki: Path, rng: random.Random) -> None:
    # 40 connections of 3 frames each, then a valid call on a new connection
    data = b"CONNECT\naccept-version:1.2\n\n\x00" + frames_blob(rng, 3)
    sock = connect_raw(server.port, pki)
    with contextlib.suppress(ssl.SSLError, ConnectionResetError, BrokenPipeError):
        sock.sendall(data + encode_frame("DISCONNECT", {}))
    for frame in FrameReader(sock).until_closed():
        assert frame.command in {"CONNECTED", "ERROR", "MESSAGE", "RECEIPT"}
    sock.close()
    assert ping_ok(server.port, pki)
