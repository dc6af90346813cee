"""Raw-socket helpers shared by the wire tests."""

from __future__ import annotations

import json
import socket
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

from rpc.client import Client
from rpc.stomp.codec import Frame, Parser, encode_frame
from rpc.tls.context import client_ssl_context

WAIT = 10.0  # generous upper bound for "eventually"; never a pass/fail timing


def tls_socket(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def connect_raw(port: int, pki: Path) -> ssl.SSLSocket:
    return tls_socket(port, client_ssl_context(pki))


class FrameReader:
    """Blocking frame reader over a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = Parser()
        self.frames: list[Frame] = []

    def next(self, timeout: float = WAIT) -> Frame:
        deadline = time.monotonic() + timeout
        while not self.frames:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.frames.extend(self.parser.feed(data))
        return self.frames.pop(0)

    def until_closed(self, timeout: float = WAIT) -> list[Frame]:
        """Every frame until the peer closes; TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        got = list(self.frames)
        self.frames.clear()
        while True:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                return got
            if not data:
                return got
            got.extend(self.parser.feed(data))


def send(sock: socket.socket, command: str, headers: dict[str, str], body: Any = None) -> None:
    sock.sendall(encode_frame(command, headers, body))


def request(method: str, params: Any = None, req_id: Any = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": method,
        "params": {} if params is None else params,
        "id": str(uuid.uuid4()) if req_id is None else req_id,
    }


def ping_ok(port: int, pki: Path) -> bool:
    """A fresh connection can call Host.ping2: the server is still serving."""
    with Client.connect("127.0.0.1", port, pki_dir=pki, timeout=WAIT) as cli:
        return cli.call("Host.ping2") is True


def body_json(frame: Frame) -> Any:
    return json.loads(frame.body or b"")


class RecordReader:
    """A TLS client that sees record boundaries: the TCP bytes are cut into TLS records and
    each is decrypted alone (ssl.SSLObject over memory BIOs), so :meth:`record` returns the
    plaintext of exactly one record from the server (b"" for one that carries no application
    data, such as a TLS 1.3 session ticket)."""

    def __init__(self, port: int, ctx: ssl.SSLContext) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self._in, self._out, server_hostname="localhost")
        self._raw = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._in.write(self._tcp())
        self._flush()

    def _flush(self) -> None:
        if self._out.pending:
            self.sock.sendall(self._out.read())

    def _tcp(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        return data

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def record(self) -> bytes:
        while len(self._raw) < 5 or len(self._raw) < 5 + int.from_bytes(self._raw[3:5]):
            self._raw += self._tcp()
        size = 5 + int.from_bytes(self._raw[3:5])
        one, self._raw = self._raw[:size], self._raw[size:]
        self._in.write(one)
        out = b""
        while True:
            try:
                out += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush()  # (a key update would be answered)
                return out

    def frames(self) -> list[Frame]:
        """The frames in the next record (asserting it holds whole ones)."""
        data = self.record()
        parser = Parser()
        frames = parser.feed(data)
        assert parser.idle, f"a record ends inside a frame: {data[-80:]!r}"
        return frames

    def close(self) -> None:
        self.sock.close()
