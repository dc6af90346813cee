"""The sans-IO STOMP codec: vdsm's byte layout, escaping, splitting, heart-beats and limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpc.stomp.codec import (
    DEFAULT_MAX_FRAME_SIZE,
    Frame,
    Parser,
    ProtocolError,
    encode_frame,
    escape,
    fill_template,
    message_template,
    unescape,
)


def test_encode_matches_vdsm_examples() -> None:
    assert encode_frame("CONNECT", {}) == b"CONNECT\n\n\x00"
    assert encode_frame("SEND", {}, "zorro") == b"SEND\ncontent-length:5\n\nzorro\x00"
    assert encode_frame("SEND", {"abc": "def"}, "zorro") == (
        b"SEND\nabc:def\ncontent-length:5\n\nzorro\x00"
    )
    assert encode_frame("CONNECT", {"abc": "with\nnewline"}) == (
        b"CONNECT\nabc:with\\nnewline\n\n\x00"
    )


def test_content_length_is_overwritten_in_place_and_absent_without_body() -> None:
    out = encode_frame("SEND", {"content-length": 99, "x": "y"}, b"ab")
    assert out == b"SEND\ncontent-length:2\nx:y\n\nab\x00"
    assert encode_frame("SEND", {"content-length": "3"}) == b"SEND\n\n\x00"
    assert encode_frame("SEND", {}, b"") == b"SEND\ncontent-length:0\n\n\x00"
    assert encode_frame("SEND", {}, "é") == b"SEND\ncontent-length:2\n\n\xc3\xa9\x00"


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        ("a\\b", "a\\\\b"),
        ("a\rb", "a\\rb"),
        ("a\nb", "a\\nb"),
        ("a:b", "a\\cb"),
        ("plain", "plain"),
    ],
)
def test_every_escape_both_ways(raw: str, wire: str) -> None:
    assert escape(raw) == wire
    assert unescape(wire) == raw
    frame = Parser().feed(encode_frame("SEND", {raw: raw}, b""))[0]
    assert frame.headers[raw] == raw
    assert f"{wire}:{wire}".encode() in encode_frame("SEND", {raw: raw})


@pytest.mark.parametrize("bad", ["a\\tb", "trailing\\", "\\x"])
def test_unknown_escape_is_a_protocol_error(bad: str) -> None:
    with pytest.raises(ProtocolError):
        unescape(bad)
    with pytest.raises(ProtocolError):
        Parser().feed(f"SEND\nk:{bad}\n\n\x00".encode())


def test_header_value_may_hold_a_literal_colon_after_the_first() -> None:
    frame = Parser().feed(b"CONNECT\nhost:engine:54321\n\n\x00")[0]
    assert frame.headers == {"host": "engine:54321"}


def test_first_repeated_header_wins() -> None:
    frame = Parser().feed(b"SEND\nk:first\nk:second\n\n\x00")[0]
    assert frame.headers == {"k": "first"}


def test_body_without_content_length_ends_at_nul_and_with_it_may_hold_nul() -> None:
    p = Parser()
    frames = p.feed(b"SEND\n\nabc\x00SEND\ncontent-length:3\n\na\x00b\x00")
    assert [f.body for f in frames] == [b"abc", b"a\x00b"]


def test_content_length_must_be_followed_by_nul() -> None:
    with pytest.raises(ProtocolError, match="NUL"):
        Parser().feed(b"SEND\ncontent-length:2\n\nabc\x00")


def test_invalid_content_length() -> None:
    with pytest.raises(ProtocolError):
        Parser().feed(b"SEND\ncontent-length:-1\n\n\x00")


def test_crlf_line_endings_are_accepted() -> None:
    frame = Parser().feed(b"SEND\r\nk:v\r\n\r\nbody\x00")[0]
    assert (frame.command, frame.headers, frame.body) == ("SEND", {"k": "v"}, b"body")


def test_heartbeats_between_frames_are_skipped_and_counted() -> None:
    p = Parser()
    frames = p.feed(b"\n\r\n\nCONNECT\n\n\x00\n\nSEND\n\nx\x00\n")
    assert [f.command for f in frames] == ["CONNECT", "SEND"]
    assert p.heartbeats == 6
    assert p.buffered == 0


def test_several_frames_in_one_read() -> None:
    data = b"".join(encode_frame("SEND", {"n": str(i)}, f"b{i}") for i in range(50))
    frames = Parser().feed(data)
    assert [f.headers["n"] for f in frames] == [str(i) for i in range(50)]
    assert [f.body for f in frames] == [f"b{i}".encode() for i in range(50)]


STREAM = (
    b"\n"
    + encode_frame("SUBSCRIBE", {"destination": "q.a:b", "id": "1"})
    + b"\r\n"
    + encode_frame("SEND", {"destination": "jms.topic.vdsm_requests"}, '{"a": "b\\n"}')
    + b"SEND\nx:y\n\nno length\x00"
)


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_split_at_every_byte_boundary(cut: int) -> None:
    expected = Parser().feed(STREAM)
    p = Parser()
    assert p.feed(STREAM[:cut]) + p.feed(STREAM[cut:]) == expected
    assert len(expected) == 3


def test_byte_at_a_time() -> None:
    p = Parser()
    frames = [f for b in STREAM for f in p.feed(bytes([b]))]
    assert frames == Parser().feed(STREAM)


def test_unknown_command_and_bad_utf8_are_errors() -> None:
    with pytest.raises(ProtocolError, match="unknown command"):
        Parser().feed(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ProtocolError):
        Parser().feed(b"SEND\nk:\xff\n\n\x00")
    with pytest.raises(ProtocolError):
        Parser().feed(b"SEND\nnocolon\n\n\x00")


def test_default_frame_limit_is_16_mib() -> None:
    assert DEFAULT_MAX_FRAME_SIZE == 16 * 1024 * 1024
    with pytest.raises(ProtocolError, match="too large"):
        Parser().feed(b"SEND\ncontent-length:%d\n\n" % DEFAULT_MAX_FRAME_SIZE)


def test_frame_limit_with_content_length_fails_before_the_body_arrives() -> None:
    p = Parser(max_frame_size=1000)
    with pytest.raises(ProtocolError, match="too large"):
        p.feed(b"SEND\ncontent-length:5000\n\n")
    assert Parser(max_frame_size=1000).feed(b"SEND\ncontent-length:900\n\n" + b"x" * 900 + b"\0")


def test_frame_limit_without_content_length_bounds_the_buffer() -> None:
    p = Parser(max_frame_size=1000)
    p.feed(b"SEND\n\n")
    with pytest.raises(ProtocolError, match="too large"):
        for _ in range(100):
            p.feed(b"x" * 100)
            assert p.buffered <= 1000


def test_header_count_limit() -> None:
    head = b"SEND\n" + b"".join(b"h%d:v\n" % i for i in range(11))
    with pytest.raises(ProtocolError, match="too many headers"):
        Parser(max_headers=10).feed(head + b"\n\x00")
    assert Parser(max_headers=11).feed(head + b"\n\x00")


def test_header_line_limit_fails_without_waiting_for_the_eol() -> None:
    p = Parser(max_header_line=100)
    p.feed(b"SEND\nk:")
    with pytest.raises(ProtocolError, match="too long"):
        for _ in range(50):
            p.feed(b"v" * 10)
            assert p.buffered < 200
    with pytest.raises(ProtocolError, match="too long"):
        Parser(max_header_line=100).feed(b"SEND\nk:" + b"v" * 200 + b"\n\n\x00")


# Round-trip properties ---------------------------------------------------------------------

header_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
commands = st.sampled_from(["SEND", "SUBSCRIBE", "MESSAGE", "CONNECT", "ERROR", "RECEIPT"])
frames = st.builds(
    lambda c, h, b: (c, h, b),
    commands,
    st.dictionaries(header_text.filter(lambda k: k != "content-length"), header_text, max_size=6),
    st.one_of(st.none(), st.binary(max_size=300)),
)


@given(st.lists(frames, min_size=1, max_size=5), st.lists(st.integers(1, 64), max_size=10))
def test_round_trip_in_random_chunks(
    items: list[tuple[str, dict[str, str], bytes | None]], cuts: list[int]
) -> None:
    data = b"\n".join(encode_frame(c, h, b) for c, h, b in items)
    p = Parser()
    got: list[Frame] = []
    pos = 0
    for size in cuts:
        got += p.feed(data[pos : pos + size])
        pos += size
    got += p.feed(data[pos:])
    assert len(got) == len(items)
    for frame, (command, headers, body) in zip(got, items, strict=True):
        assert frame.command == command
        expected = dict(headers)
        if body is not None:
            expected["content-length"] = str(len(body))
        assert frame.headers == expected
        assert frame.body == (body or b"")
        assert Frame(command, frame.headers, body).encode() == encode_frame(command, headers, body)


def test_frames_before_an_error_are_returned_first() -> None:
    p = Parser()
    frames = p.feed(b"CONNECT\n\n\x00SEND\nbad\n\n\x00")
    assert [f.command for f in frames] == ["CONNECT"]
    assert p.error is not None
    with pytest.raises(ProtocolError):
        p.feed(b"")


@given(
    dest=st.text(min_size=1, max_size=20),
    sub_id=st.text(max_size=10),
    body=st.binary(max_size=64),
    message_id=st.integers(min_value=0, max_value=2**63),
)
def test_message_template_matches_encode_frame(
    dest: str, sub_id: str, body: bytes, message_id: int
) -> None:
    headers = {"destination": dest, "content-type": "application/json", "subscription": sub_id}
    assert fill_template(message_template(headers), message_id, body) == encode_frame(
        "MESSAGE", {**headers, "message-id": message_id}, body
    )


@pytest.mark.parametrize(
    ("length", "message"),
    [("9" * 5000, "frame too large"), ("1" * 4301, "frame too large"),
     ("9" * 16, "frame too large"), ("1_0", "invalid content-length")],
)
def test_huge_or_odd_content_lengths_are_protocol_errors(length: str, message: str) -> None:
    good = encode_frame("SEND", {"destination": "q"}, "a")
    frames = Parser().feed(good + b"SEND\ncontent-length:%s\n\n" % length.encode())
    assert [f.body for f in frames] == [b"a"]  # the frame before it is still returned
    p = Parser()
    with pytest.raises(ProtocolError, match=message):
        p.feed(b"SEND\ncontent-length:%s\n\n" % length.encode())


def test_leading_zeros_of_a_content_length_are_just_zeros() -> None:
    (f,) = Parser().feed(b"SEND\ncontent-length:" + b"0" * 5000 + b"3\n\nabc\x00")
    assert f.body == b"abc"
