"""The hostile wire inputs of issue 12 (and their neighbours), with the answers they must get.

A :class:`Case` is what one TLS connection sends (``send``: chunks, each one ``sendall``), the
frames it must get back, in order (``expect``), and whether the server then closes it
(``closed``; an open connection must still answer a DISCONNECT receipt afterwards, so it still
works). A case may name a ``bystander``: another connection that sends these bytes first (a
CONNECT and its subscriptions) and must then receive nothing at all while the case runs; that is
how cases about reading or writing other clients' traffic are told.

To add a case, append it to CASES; tests/unit/rpc/test_rpc_hostile.py runs every one over real
loopback TLS against the server built by ``hostile_server`` (its small limits are below), checks
that every reply is strict JSON, that a fresh client's ping2 is still answered, and that nothing
logged a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rpc.stomp.codec import encode_frame

REQUESTS = "jms.topic.vdsm_requests"
RESPONSES = "jms.topic.vdsm_responses"
EVENTS = "jms.queue.events"
REPLY = "hostile.replies"  # the case connection's own reply-to
VICTIM = "victim.replies"  # a bystander's reply-to

# The limits of the server the cases run against (passed to StompServer).
LIMITS: dict[str, Any] = {
    "max_frame_size": 256 * 1024,
    "max_subscriptions": 128,
    "handshake_timeout": 1.5,
    "detect_timeout": 1.5,
    "frame_timeout": 1.5,
}
UNSET: Any = object()


@dataclass(frozen=True)
class Want:
    """One expected frame. ERROR: ``message`` is its message header and body. MESSAGE: the
    JSON-RPC reply has this ``rid`` and either this error ``code`` or this ``result``."""

    command: str
    message: str | None = None
    rid: Any = UNSET
    code: int | None = None
    result: Any = UNSET
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    row: str  # the row, or "also" for its "also seen" list
    send: tuple[bytes, ...]
    expect: tuple[Want, ...]
    closed: bool
    bystander: bytes = b""


def frame(command: str, body: str | bytes | None = None, **headers: str) -> bytes:
    return encode_frame(command, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def connect(heart_beat: str = "0,0") -> bytes:
    return frame("CONNECT", accept_version="1.2", heart_beat=heart_beat)


def subscribe(destination: str, sub_id: str) -> bytes:
    return frame("SUBSCRIBE", destination=destination, id=sub_id)


def request(body: str, reply_to: str = REPLY, destination: str = REQUESTS) -> bytes:
    return frame("SEND", body, destination=destination, reply_to=reply_to)


def call(method: str, rid: str, params: str = "{}") -> str:
    """A request body, written by hand so that it may hold what json.dumps would not."""
    return f'{{"jsonrpc": "2.0", "method": "{method}", "params": {params}, "id": {rid}}}'


def ping(rid: str = "p") -> bytes:
    return request(call("Host.ping2", json.dumps(rid)))


def with_length(length: str, body: bytes = b"") -> bytes:
    """A SEND to the request queue whose content-length header is ``length`` verbatim."""
    head = f"SEND\ndestination:{REQUESTS}\nreply-to:{REPLY}\ncontent-length:{length}\n\n"
    return head.encode() + body + b"\x00"


OPEN = connect() + subscribe(REPLY, "mine")
CONNECTED = Want("CONNECTED")
PONG = Want("MESSAGE", rid="p", result=True, headers={"destination": REPLY})
TOO_LARGE = Want("ERROR", "frame too large")
BAD_LENGTH = Want("ERROR", "invalid content-length")
PING_BODY = call("Host.ping2", '"z"').encode()


def _length_cases() -> list[Case]:
    """Row 8: content-length values int() chokes on, after a good frame in the same read."""
    bad = {
        "5000 digits": ("9" * 5000, TOO_LARGE),
        "4301 digits (past int's limit)": ("1" * 4301, TOO_LARGE),
        "16 digits": ("9" * 16, TOO_LARGE),
        "just over the frame limit": (str(256 * 1024), TOO_LARGE),
        "exponent": ("1e9", BAD_LENGTH),
        "negative": ("-1", BAD_LENGTH),
        "superscript digit": ("²", BAD_LENGTH),
        "underscore": ("1_0", BAD_LENGTH),
    }
    cases = [
        Case(f"content-length {name}", "8", (OPEN + ping() + with_length(value),),
             (CONNECTED, PONG, want), closed=True)
        for name, (value, want) in bad.items()
    ]
    cases.append(Case("content-length of 5000 digits alone in its read", "8",
                      (OPEN, with_length("9" * 5000)), (CONNECTED, TOO_LARGE), closed=True))
    zeros = "0" * 5000 + str(len(PING_BODY))
    cases.append(Case("content-length 5000 digits of leading zeros is just a number", "8",
                      (OPEN + with_length(zeros, PING_BODY),),
                      (CONNECTED, Want("MESSAGE", rid="z", result=True)), closed=False))
    return cases


def _heartbeat_cases() -> list[Case]:
    """Row 9: absurd heart-beats are clamped; the frames after CONNECT still run."""
    nines = "9" * 400
    values = {
        f"0,{nines}": "3600000,0",
        f"{nines},0": "0,3600000",
        f"{'9' * 5000},{'9' * 5000}": "3600000,3600000",
        "99999999,1": "1000,3600000",
        "1e9,inf": "0,0",
        "-0,0x10": "0,0",
        "5000,0000000000000000000000007": "1000,5000",
    }
    return [
        Case(f"CONNECT heart-beat {value[:24]}", "9",
             (connect(value) + subscribe(REPLY, "mine") + ping(),),
             (Want("CONNECTED", headers={"heart-beat": answer}), PONG), closed=False)
        for value, answer in values.items()
    ]


def _subscription_cases() -> list[Case]:
    """Row 10: a per-connection subscription cap; unsubscribing is cheap."""
    many = b"".join(subscribe("q", str(i)) for i in range(50_000))
    undo = b"".join(frame("UNSUBSCRIBE", id=str(i)) for i in range(50_000))
    too_many = Want("ERROR", "Too many subscriptions (at most 128 per connection)")
    at_cap = b"".join(subscribe("q", str(i)) for i in range(127))
    undo_cap = b"".join(frame("UNSUBSCRIBE", id=str(i)) for i in range(127))
    return [
        Case("50 000 SUBSCRIBEs to one destination, then UNSUBSCRIBEs", "10",
             (connect() + many + undo,), (CONNECTED, too_many), closed=True),
        Case("one subscription past the cap", "10",
             (OPEN + at_cap + subscribe("q", "one more"),), (CONNECTED, too_many), closed=True),
        Case("up to the cap, all undone, then more", "10",
             (OPEN + at_cap + undo_cap + at_cap + ping(),), (CONNECTED, PONG), closed=False),
    ]


def _timeout_cases() -> list[Case]:
    """Row 11, per connection: an incomplete frame or a missing CONNECT times out."""
    late = Want("ERROR", "frame not complete in time")
    return [
        Case("SEND and stop", "11", (OPEN, b"SEND\n"), (CONNECTED, late), closed=True),
        Case("SEND and stop, before CONNECT", "11", (b"SEND\n",),
             (Want("ERROR", "no CONNECT in time"),), closed=True),
        Case("a head without its blank line", "11", (OPEN + b"SEND\ndestination:x\n",),
             (CONNECTED, late), closed=True),
        Case("a body that never ends", "11", (OPEN + with_length("100", b"x" * 50)[:-1],),
             (CONNECTED, late), closed=True),
        Case("SUBSCRIBE but never CONNECT", "11", (subscribe(REPLY, "mine"),),
             (Want("ERROR", "no CONNECT in time"),), closed=True),
        Case("a detected command word and nothing else", "11", (b"CONN",), (), closed=True),
    ]


def _json_cases() -> list[Case]:
    """Row 13: strict JSON both ways."""
    opened = connect() + subscribe(RESPONSES, "responses") + subscribe(REPLY, "mine")
    invalid = Want("MESSAGE", rid=None, code=-32600, headers={"destination": RESPONSES})
    cases = [
        Case(f"request id {rid}", "13", (opened + request(call("Host.ping2", rid)),),
             (CONNECTED, invalid), closed=False)
        for rid in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999")
    ]
    cases += [
        Case("NaN in params", "13",
             (opened + request(call("Host.echo", '"x"', '{"text": NaN}')),),
             (CONNECTED, invalid), closed=False),
        Case("1e400 in a batch", "13",
             (opened + request("[" + call("Host.ping2", '"a"') + ", "
                               + call("Host.ping2", "1e400") + "]"),),
             (CONNECTED, invalid), closed=False),
        Case("a verb that returns NaN", "13", (opened + request(call("Test.nan", '"n"')),),
             (CONNECTED, Want("MESSAGE", rid="n", code=-32603)), closed=False),
        Case("the largest finite float id is answered", "13",
             (opened + request(call("Host.ping2", "1.7976931348623157e308")),),
             (CONNECTED, Want("MESSAGE", rid=1.7976931348623157e308, result=True)),
             closed=False),
    ]
    return cases


def _isolation_cases() -> list[Case]:
    """Also seen: no client reads another's requests or replies, or writes into them."""
    spy = (connect() + subscribe(REQUESTS, "tap") + subscribe("jms.topic", "tap2")
           + subscribe("jms", "tap3") + subscribe(REPLY, "steal") + subscribe(RESPONSES, "r"))
    victim = connect() + subscribe(VICTIM, "victim") + subscribe(EVENTS, "events")
    unavailable = Want("ERROR", "Subscription not available")
    fake_reply = json.dumps({"jsonrpc": "2.0", "id": "x", "result": "spoofed"})
    fake_event = json.dumps({"jsonrpc": "2.0", "method": "|net|host_conn|no_id", "params": {}})
    return [
        Case("a request is seen by no subscriber of the request queue", "also",
             (OPEN + ping() + request("{bad", reply_to=REPLY),), (CONNECTED, PONG),
             closed=False, bystander=spy),
        Case("a spoofed reply into another client's reply-to", "also",
             (OPEN + frame("SEND", fake_reply, destination=VICTIM),), (CONNECTED, unavailable),
             closed=False, bystander=victim),
        Case("a spoofed event", "also",
             (OPEN + frame("SEND", fake_event, destination=EVENTS),), (CONNECTED, unavailable),
             closed=False, bystander=victim),
        Case("a request whose reply-to is another client's", "also",
             (OPEN + request(call("Host.ping2", '"p"'), reply_to=VICTIM),), (CONNECTED,),
             closed=False, bystander=victim),
        Case("a SEND to its own subscription still arrives", "also",
             (OPEN + frame("SEND", "hello", destination=REPLY),),
             (CONNECTED, Want("MESSAGE", headers={"destination": REPLY, "subscription": "mine"})),
             closed=False, bystander=victim),
    ]


CASES: list[Case] = [
    *_length_cases(),
    *_heartbeat_cases(),
    *_subscription_cases(),
    *_timeout_cases(),
    *_json_cases(),
    *_isolation_cases(),
]
