"""A sans-IO STOMP 1.2 codec in the style of h11: bytes in, frames out, no sockets.

Encoding follows vdsm's dialect: every header of every frame is escaped, and a frame with a body
always carries a correct ``content-length`` (an existing one is overwritten in place, a missing one
is appended last). Parsing skips EOL heart-beats between frames, honours ``content-length`` (the
next byte must then be NUL), reads to the first NUL otherwise, and keeps the first of repeated
headers. Limits on frame size, header count and header line length fail with a
:class:`ProtocolError` before the buffer can grow past them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_HEADERS = 64
DEFAULT_MAX_HEADER_LINE = 16 * 1024
FAST_HEAD = 4096  # heads up to this size are parsed in one pass

HEARTBEAT = b"\n"
# More content-length digits than this (leading zeros aside) is a length no frame limit allows,
# and int() of thousands of digits raises ValueError: refuse it before converting.
MAX_LENGTH_DIGITS = 15

# Command words a client may legitimately start a connection with, plus the server-side ones
# that vdsm's protocol detector also recognises. STOMP is the STOMP 1.2 alias of CONNECT.
COMMANDS = frozenset(
    {
        "CONNECT",
        "STOMP",
        "CONNECTED",
        "DISCONNECT",
        "ERROR",
        "MESSAGE",
        "RECEIPT",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
    }
)

_UNESCAPES = {"\\": "\\", "r": "\r", "n": "\n", "c": ":"}
_NEEDS_ESCAPE = re.compile(r"[\\\r\n:]").search


class ProtocolError(Exception):
    """The peer broke the protocol or a limit; the connection must get an ERROR and be closed."""


@dataclass(frozen=True)
class Frame:
    """One STOMP frame. ``body`` is None for a frame that has no body on the wire."""

    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def encode(self) -> bytes:
        return encode_frame(self.command, self.headers, self.body)

    def text(self) -> str:
        """The body decoded as UTF-8 ('' when there is none)."""
        return (self.body or b"").decode("utf-8")


def escape(text: str) -> str:
    """Escape a header key or value for the wire."""
    if _NEEDS_ESCAPE(text) is None:  # the common case, and 5x cheaper than translating
        return text
    return (
        text.replace("\\", "\\\\")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace(":", "\\c")
    )


def unescape(text: str) -> str:
    """Undo :func:`escape`. An unknown escape or a trailing backslash is a ProtocolError."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n or text[i + 1] not in _UNESCAPES:
            raise ProtocolError(f"invalid escape sequence in header: {text[i : i + 2]!r}")
        out.append(_UNESCAPES[text[i + 1]])
        i += 2
    return "".join(out)


def encode_frame(
    command: str, headers: Mapping[str, str | int], body: bytes | str | None = None
) -> bytes:
    """Serialise a frame. A str body is UTF-8; a body (even empty) always gets content-length."""
    raw: bytes | None = body.encode("utf-8") if isinstance(body, str) else body
    length = None if raw is None else f"content-length:{len(raw)}"
    lines = [command]
    for k, v in headers.items():
        if k == "content-length":
            if length is not None:
                lines.append(length)  # overwritten in place
                length = None
            continue
        lines.append(f"{escape(str(k))}:{escape(str(v))}")
    if length is not None:
        lines.append(length)
    lines.append("\n")
    head = "\n".join(lines).encode("utf-8")
    return b"".join((head, raw, b"\x00")) if raw else head + b"\x00"


def message_template(headers: Mapping[str, str]) -> bytes:
    """The encoded head of a MESSAGE frame up to its ``message-id`` value, for
    :func:`fill_template`. ``headers`` must hold neither message-id nor content-length. One
    template serves every body sent with the same headers (a subscription's MESSAGE frames)."""
    lines = ["MESSAGE"]
    lines.extend(f"{escape(k)}:{escape(v)}" for k, v in headers.items())
    lines.append("message-id:")
    return "\n".join(lines).encode("utf-8")


def fill_template(template: bytes, message_id: int, body: bytes) -> bytes:
    """The frame :func:`encode_frame` gives for the template's headers, then ``message-id``
    (STOMP 1.2 requires one on every MESSAGE, unique per frame), and ``body``."""
    return b"%b%d\ncontent-length:%d\n\n%b\x00" % (template, message_id, len(body), body)


def fast_head_limit(max_header_line: int, max_frame_size: int) -> int:
    """A head that ends within this many bytes breaks no line or frame limit."""
    return min(FAST_HEAD, max_header_line, max_frame_size)


def split_head(head: bytes | bytearray, max_headers: int) -> tuple[str, dict[str, str]] | None:
    """Command and headers (the first of repeats) of a head without its blank line, when it is
    LF-only, UTF-8, a known command and within ``max_headers`` well-formed lines; else None.
    A bad escape raises ProtocolError."""
    if head.find(b"\r") >= 0:
        return None
    try:
        lines = head.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    command = lines[0]
    if command not in COMMANDS or len(lines) > max_headers + 1:
        return None
    headers: dict[str, str] = {}
    for i in range(1, len(lines)):
        key, sep, value = lines[i].partition(":")
        if not sep:
            return None
        if "\\" in key or "\\" in value:
            key, value = unescape(key), unescape(value)
        if key not in headers:
            headers[key] = value
    return command, headers


def parse_length(headers: Mapping[str, str]) -> int | None:
    """The frame's content-length; None without one. ProtocolError if it is not a number, or
    "frame too large" for one with more significant digits than any frame limit has."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):  # int() takes other digits ('²' raises)
        raise ProtocolError("invalid content-length")
    if len(raw) > MAX_LENGTH_DIGITS:
        raw = raw.lstrip("0") or "0"
        if len(raw) > MAX_LENGTH_DIGITS:
            raise ProtocolError("frame too large")
    return int(raw)


@dataclass
class _Pending:
    """A frame whose head is parsed and whose body is still arriving."""

    command: str
    headers: dict[str, str]
    body_start: int
    length: int | None
    scanned: int = 0  # offset up to which a NUL was already looked for


class Parser:
    """Incremental STOMP parser. ``feed(data)`` returns the frames completed by ``data``.

    After a ProtocolError the parser is unusable; the caller closes the connection.
    """

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_header_line: int = DEFAULT_MAX_HEADER_LINE,
    ) -> None:
        self.max_frame_size = max_frame_size
        self.max_headers = max_headers
        self.max_header_line = max_header_line
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._head_scanned = 0  # bytes of an incomplete head already known to hold no new EOL
        self.heartbeats = 0
        self.completed = 0  # frames returned so far: tells one partial frame from the next
        self.error: ProtocolError | None = None
        self._fast_head = fast_head_limit(max_header_line, max_frame_size)

    @property
    def buffered(self) -> int:
        """Bytes held that are not yet part of a returned frame."""
        return len(self._buf)

    @property
    def idle(self) -> bool:
        """Between frames: nothing held, nothing pending, no error to raise."""
        return not self._buf and self._pending is None and self.error is None

    def discard(self) -> None:
        """Drop what is buffered (its memory too); the parser is unusable afterwards."""
        self._buf = bytearray()
        self._pending = None
        if self.error is None:
            self.error = ProtocolError("connection closed")

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by ``data``.

        A ProtocolError is raised at once when no frame precedes it; otherwise the good frames
        are returned first, ``error`` is set and the next ``feed`` (even of b"") raises it.
        """
        if self.error is not None:
            raise self.error
        self._buf += data
        frames: list[Frame] = []
        while True:
            try:
                frame = self._next_frame()
            except ProtocolError as exc:
                self.error = exc
                self._buf.clear()
                if not frames:
                    raise
                return frames
            if frame is None:
                return frames
            frames.append(frame)

    def _next_frame(self) -> Frame | None:
        p = self._pending
        if p is None:
            buf = self._buf
            if not buf:
                return None
            if buf[0] == 0x0A or buf[0] == 0x0D:
                self._skip_heartbeats()
                if not buf:
                    return None
            if self._head_scanned and not self._head_may_be_complete():
                return None
            p = self._parse_head_fast() or self._parse_head()
            if p is None:
                self._head_scanned = len(buf)
                return None
            self._pending = p
            self._head_scanned = 0
        return self._parse_body(p)

    def _skip_heartbeats(self) -> None:
        buf = self._buf
        i = 0
        n = len(buf)
        while i < n:
            if buf[i] == 0x0A:
                self.heartbeats += 1
                i += 1
            elif buf[i] == 0x0D and i + 1 < n and buf[i + 1] == 0x0A:
                self.heartbeats += 1
                i += 2
            else:
                break
        if i:
            del buf[:i]
            self._head_scanned = 0

    def _head_may_be_complete(self) -> bool:
        """False when no EOL arrived since the last incomplete parse (no quadratic re-scans)."""
        buf = self._buf
        seen = self._head_scanned
        if seen == 0 or buf.find(b"\n", seen) >= 0:
            return True
        line_start = buf.rfind(b"\n", 0, seen) + 1
        if len(buf) - line_start > self.max_header_line + 1:
            raise ProtocolError("header line too long")
        return False

    def _read_line(self, start: int) -> tuple[str, int] | None:
        """The line at ``start`` (without EOL) and the offset after it, or None if incomplete."""
        end = self._buf.find(b"\n", start, start + self.max_header_line + 2)
        if end < 0:
            if len(self._buf) - start > self.max_header_line:
                raise ProtocolError("header line too long")
            return None
        stop = end - 1 if end > start and self._buf[end - 1] == 0x0D else end
        if stop - start > self.max_header_line:
            raise ProtocolError("header line too long")
        try:
            line = self._buf[start:stop].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("header is not valid UTF-8") from exc
        return line, end + 1

    def _parse_head_fast(self) -> _Pending | None:
        """The common case in one pass: a short, LF-only, well-formed head. None leaves the
        frame to :meth:`_parse_head`, which also gives any error in its proper order."""
        buf = self._buf
        end = buf.find(b"\n\n", 0, self._fast_head)
        if end < 0:
            return None
        head = split_head(buf[:end], self.max_headers)
        if head is None:
            return None
        return self._with_length(head[0], head[1], end + 2)

    def _parse_head(self) -> _Pending | None:
        first = self._read_line(0)
        if first is None:
            return None
        command, pos = first
        if command not in COMMANDS:
            raise ProtocolError(f"unknown command {command[:32]!r}")
        headers: dict[str, str] = {}
        count = 0
        while True:
            if pos > self.max_frame_size:
                raise ProtocolError("frame too large")
            got = self._read_line(pos)
            if got is None:
                return None
            line, pos = got
            if line == "":
                break
            count += 1
            if count > self.max_headers:
                raise ProtocolError("too many headers")
            key, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line {line[:64]!r}")
            headers.setdefault(unescape(key), unescape(value))
        return self._with_length(command, headers, pos)

    def _with_length(self, command: str, headers: dict[str, str], pos: int) -> _Pending:
        length = parse_length(headers)
        if length is not None and pos + length + 1 > self.max_frame_size:
            raise ProtocolError("frame too large")
        return _Pending(command, headers, pos, length)

    def _parse_body(self, p: _Pending) -> Frame | None:
        buf = self._buf
        if p.length is not None:
            end = p.body_start + p.length
            if len(buf) <= end:
                return None
            if buf[end] != 0:
                raise ProtocolError("frame does not end with a NUL byte")
        else:
            end = buf.find(b"\x00", max(p.body_start, p.scanned))
            if end < 0:
                p.scanned = len(buf)
                if len(buf) >= self.max_frame_size:
                    raise ProtocolError("frame too large")
                return None
            if end + 1 > self.max_frame_size:
                raise ProtocolError("frame too large")
        body = bytes(buf[p.body_start : end])
        del buf[: end + 1]
        self._pending = None
        self.completed += 1
        return Frame(p.command, p.headers, body)
