"""vdsm's STOMP dialect without sockets: command handling, subscriptions and reply routing."""

from __future__ import annotations

import json
import time

import pytest

from rpc.jsonrpc import Dispatcher
from rpc.stomp.broker import RESPONSE_QUEUE, Broker, Limits, Request, Session, negotiate_heartbeat
from rpc.stomp.codec import Frame, Parser, encode_frame
from tests.unit.rpc.conftest import Verbs, make_dispatcher


class FakeLink:
    def __init__(self) -> None:
        self.parser = Parser()
        self.out: list[Frame] = []
        self.closed = False
        self.heartbeat: tuple[int, int] | None = None

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.out += self.parser.feed(data)

    def close(self) -> None:
        self.closed = True

    def start_heartbeat(self, send_ms: int, recv_ms: int) -> None:
        self.heartbeat = (send_ms, recv_ms)

    def take(self) -> list[Frame]:
        out, self.out = self.out, []
        return out


class Harness:
    """A broker whose JSON-RPC runs inline."""

    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher = dispatcher or make_dispatcher(Verbs())
        self.requests: list[Request] = []
        self.broker = Broker(self.submit)

    def submit(self, request: Request) -> None:
        self.requests.append(request)
        reply = self.dispatcher.dispatch(request.body)
        if reply is not None:
            self.broker.route_reply(reply, request)

    def open(self) -> tuple[Session, FakeLink]:
        link = FakeLink()
        return self.broker.open_session(link), link


def feed(session: Session, command: str, headers: dict[str, str], body: str | None = None) -> None:
    session.data_received(encode_frame(command, headers, body))


def ping(rid: str = "r1") -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "Host.ping2", "params": {}, "id": rid})


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_engine_order_subscribe_before_connect(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": RESPONSE_QUEUE, "id": "s1", "ack": "auto"})
    feed(s, "SUBSCRIBE", {"destination": "jms.queue.events", "id": "s2", "ack": "auto"})
    feed(s, "CONNECT", {"accept-version": "1.2", "host": "engine", "heart-beat": "5000,10000"})
    connected = link.take()
    assert [f.command for f in connected] == ["CONNECTED"]
    assert connected[0].headers == {"version": "1.2", "heart-beat": "10000,5000"}
    assert link.heartbeat == (10000, 5000)
    feed(s, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": RESPONSE_QUEUE}, ping())
    (msg,) = link.take()
    assert msg.command == "MESSAGE"
    assert list(msg.headers) == [
        "destination", "content-type", "subscription", "message-id", "content-length"]
    assert msg.headers["destination"] == RESPONSE_QUEUE
    assert msg.headers["subscription"] == "s1"
    assert json.loads(msg.text()) == {"jsonrpc": "2.0", "id": "r1", "result": True}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (0, 0)),
        ("0,24000", (24000, 0)),
        ("10,20", (1000, 1000)),
        ("x,5000", (5000, 0)),
        ("3000", (0, 3000)),
        ("-5,-5", (0, 0)),
        ("0," + "9" * 400, (3_600_000, 0)),
        ("9" * 5000 + ",5", (1000, 3_600_000)),
        ("1_000,+5", (0, 0)),
        ("0007000,٣", (0, 7000)),
    ],
)
def test_heartbeat_negotiation(value: str | None, expected: tuple[int, int]) -> None:
    assert negotiate_heartbeat(value) == expected


@pytest.mark.parametrize("versions", ["1.2", "1.0,1.1,1.2", "1.1, 1.2"])
def test_accept_version_containing_1_2(h: Harness, versions: str) -> None:
    s, link = h.open()
    feed(s, "CONNECT", {"accept-version": versions})
    assert link.take()[0].command == "CONNECTED"
    assert not link.closed


@pytest.mark.parametrize("headers", [{"accept-version": "1.0,1.1"}, {}])
def test_unsupported_version_is_an_error_and_closes(h: Harness, headers: dict[str, str]) -> None:
    s, link = h.open()
    feed(s, "CONNECT", headers)
    (err,) = link.take()
    assert err.command == "ERROR"
    assert err.headers["message"] == err.text() == "Version unsupported"
    assert link.closed


def test_stomp_command_is_connect(h: Harness) -> None:
    s, link = h.open()
    feed(s, "STOMP", {"accept-version": "1.2"})
    assert link.take()[0].command == "CONNECTED"


@pytest.mark.parametrize(
    ("command", "headers", "message"),
    [
        ("SUBSCRIBE", {"id": "1"}, "Missing destination or subscription id header"),
        ("SUBSCRIBE", {"destination": "q"}, "Missing destination or subscription id header"),
        ("UNSUBSCRIBE", {}, "Missing id header"),
        ("SEND", {}, "Missing destination header"),
        ("SEND", {"destination": "nobody.here"}, "Subscription not available"),
    ],
)
def test_command_errors_keep_the_connection(
    h: Harness, command: str, headers: dict[str, str], message: str
) -> None:
    s, link = h.open()
    feed(s, command, headers)
    (err,) = link.take()
    assert (err.command, err.headers["message"], err.text()) == ("ERROR", message, message)
    assert not link.closed


def test_duplicate_subscription_id(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": "q", "id": "1"})
    feed(s, "SUBSCRIBE", {"destination": "q2", "id": "1"})
    assert link.take()[0].headers["message"] == "Subscription id already exists"
    assert [sub.id for sub in h.broker.subscribers("q")] == ["1"]
    assert h.broker.subscribers("q2") == []


@pytest.mark.parametrize("command", ["ACK", "NACK", "BEGIN", "COMMIT", "MESSAGE", "CONNECTED"])
def test_unknown_commands_get_error_and_close(h: Harness, command: str) -> None:
    s, link = h.open()
    feed(s, command, {"id": "1"})
    (err,) = link.take()
    assert err.command == "ERROR" and command in err.headers["message"]
    assert link.closed


def test_protocol_error_gets_error_frame_and_close(h: Harness) -> None:
    s, link = h.open()
    s.data_received(b"SEND\nk:bad\\escape\n\n\x00")
    (err,) = link.take()
    assert err.command == "ERROR" and "escape" in err.headers["message"]
    assert link.closed


def test_disconnect_with_receipt_and_without(h: Harness) -> None:
    s, link = h.open()
    feed(s, "DISCONNECT", {"receipt": "77"})
    (rcpt,) = link.take()
    assert (rcpt.command, rcpt.headers) == ("RECEIPT", {"receipt-id": "77"})
    assert not link.closed
    feed(s, "DISCONNECT", {})
    assert link.closed and link.take() == []


def test_a_reply_goes_only_to_the_connection_whose_request_it_answers(h: Harness) -> None:
    a, alink = h.open()
    b, blink = h.open()
    feed(a, "SUBSCRIBE", {"destination": "answers", "id": "a1"})
    feed(b, "SUBSCRIBE", {"destination": "answers", "id": "b1"})
    feed(b, "SUBSCRIBE", {"destination": RESPONSE_QUEUE, "id": "b2"})
    feed(a, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": "answers"}, ping("q"))
    feed(a, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": "answers"}, "{bad")
    (msg,) = alink.take()  # the null-id answer to "{bad" has no subscriber on a
    assert msg.headers["subscription"] == "a1" and json.loads(msg.text())["id"] == "q"
    assert blink.take() == []


def test_a_reply_to_a_destination_only_another_connection_has_reaches_nobody(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    a, alink = h.open()
    b, blink = h.open()
    feed(b, "SUBSCRIBE", {"destination": "answers", "id": "b1"})
    feed(a, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": "answers"}, ping("q"))
    assert alink.take() == [] and blink.take() == []
    assert "Attempt to reply to unknown destination answers" in caplog.text


def test_null_id_reply_goes_to_vdsm_responses_and_no_reply_to_is_dropped(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": RESPONSE_QUEUE, "id": "r"})
    feed(s, "SUBSCRIBE", {"destination": "mine", "id": "m"})
    feed(s, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": "mine"}, "{bad")
    (msg,) = link.take()
    assert msg.headers["destination"] == RESPONSE_QUEUE
    assert json.loads(msg.text())["error"]["code"] == -32700
    feed(s, "SEND", {"destination": "jms.topic.vdsm_requests"}, ping())
    assert link.take() == []
    assert len(h.requests) == 2


def test_sub_destinations_of_request_queues_and_flow_id(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": "mine", "id": "m"})
    headers = {
        "destination": "jms.topic.vdsm_irs_requests.x",
        "reply-to": "mine",
        "ovirtCorrelationId": "flow-1",
    }
    feed(s, "SEND", headers, ping())
    assert json.loads(link.take()[0].text())["result"] is True
    assert h.requests[-1].flow_id == "flow-1"
    feed(s, "SEND", {"destination": "jms.topic.vdsm_requestsX"}, ping())
    assert link.take()[0].headers["message"] == "Subscription not available"


def test_send_is_copied_by_dotted_prefix_to_the_sender_s_own_subscriptions(h: Harness) -> None:
    s, link = h.open()
    other, olink = h.open()
    for session in (s, other):
        feed(session, "SUBSCRIBE", {"destination": "a", "id": "1"})
        feed(session, "SUBSCRIBE", {"destination": "a.b", "id": "2"})
        feed(session, "SUBSCRIBE", {"destination": "a.bc", "id": "3"})
    feed(s, "SEND", {"destination": "a.b.c", "x": "y"}, "payload")
    got = link.take()
    assert sorted(f.headers["subscription"] for f in got) == ["1", "2"]
    for f in got:
        assert f.command == "MESSAGE" and f.body == b"payload"
        assert f.headers["destination"] == "a.b.c" and f.headers["x"] == "y"
    assert olink.take() == []  # no spoofed message into another connection's destinations
    feed(other, "SEND", {"destination": "elsewhere"}, "payload")
    assert olink.take()[0].headers["message"] == "Subscription not available"


def test_requests_are_copied_to_nobody(h: Harness) -> None:
    spy, spylink = h.open()
    feed(spy, "SUBSCRIBE", {"destination": "jms.topic.vdsm_requests", "id": "tap"})
    feed(spy, "SUBSCRIBE", {"destination": "jms.topic", "id": "tap2"})
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": "mine", "id": "m"})
    feed(s, "SEND", {"destination": "jms.topic.vdsm_requests", "reply-to": "mine"}, ping("r"))
    assert [json.loads(f.text())["id"] for f in link.take()] == ["r"]
    assert spylink.take() == []


def test_unsubscribe_and_close_remove_subscriptions(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": "q", "id": "1"})
    feed(s, "SUBSCRIBE", {"destination": "q", "id": "2"})
    feed(s, "UNSUBSCRIBE", {"id": "1"})
    feed(s, "UNSUBSCRIBE", {"id": "unknown"})
    assert [sub.id for sub in h.broker.subscribers("q")] == ["2"]
    assert link.take() == []
    s.connection_lost()
    assert h.broker.subscribers("q") == []
    assert s not in h.broker.sessions


def test_publish_reaches_every_subscriber_of_exactly_that_destination(h: Harness) -> None:
    s, link = h.open()
    feed(s, "SUBSCRIBE", {"destination": "jms.queue.events", "id": "e"})
    feed(s, "SUBSCRIBE", {"destination": "jms.queue", "id": "p"})
    assert h.broker.publish("jms.queue.events", '{"x": 1}') == 1
    (msg,) = link.take()
    assert msg.headers["subscription"] == "e" and msg.text() == '{"x": 1}'


def test_subscription_cap_is_an_error_and_closes() -> None:
    h = Harness()
    h.broker = Broker(h.submit, limits=Limits(max_subscriptions=3))
    s, link = h.open()
    for i in range(4):
        feed(s, "SUBSCRIBE", {"destination": "q", "id": str(i)})
    (err,) = link.take()
    assert err.headers["message"] == "Too many subscriptions (at most 3 per connection)"
    assert link.closed and h.broker.subscribers("q") == []


def test_fifty_thousand_subscriptions_come_and_go_in_linear_time() -> None:
    # Row 10's input with the cap lifted: with a list per destination this was quadratic.
    h = Harness()
    h.broker = Broker(h.submit, limits=Limits(max_subscriptions=50_000))
    s, link = h.open()
    subs = b"".join(encode_frame("SUBSCRIBE", {"destination": "q", "id": str(i)})
                    for i in range(50_000))
    unsubs = b"".join(encode_frame("UNSUBSCRIBE", {"id": str(i)}) for i in range(50_000))
    start = time.monotonic()
    s.data_received(subs)
    assert len(h.broker.subscribers("q")) == 50_000
    s.data_received(unsubs)
    assert time.monotonic() - start < 30  # a liveness bound, far above the real cost
    assert h.broker.subscribers("q") == [] and s.routes == {} and link.take() == []


def test_a_second_connect_is_an_error_and_closes(h: Harness) -> None:
    s, link = h.open()
    feed(s, "CONNECT", {"accept-version": "1.2", "heart-beat": "0,1000"})
    feed(s, "CONNECT", {"accept-version": "1.2", "heart-beat": "0,1000"})
    assert [f.command for f in link.take()] == ["CONNECTED", "ERROR"]
    assert link.closed
