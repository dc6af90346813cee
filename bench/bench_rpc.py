"""P5: Host.ping2 round trips per second over mutual-TLS STOMP vs a bare TLS echo loop, and the
server's RSS holding 1000 idle TLS connections.

    .venv/bin/python bench/bench_rpc.py [--seconds 3] [--idle 1000] [--rounds 1]

Every server runs in its own process; the client side runs here, one blocking socket at a time
(the same loop shape for all), plus the rpc.client.Client library for reference. The echo
server uses the same server TLS context (mutual TLS, same certificates) and gets a payload of
the ping2 SEND frame's size. Two StompServer set-ups are measured in the same run:

- ``pool``: ping2 in the thread pool, as every verb was before;
- ``inline``: ping2 registered ``inline=True``, answered on the event loop.

Two more echo servers, same context and payload, show what the layers under StompServer cost:
an asyncio protocol behind asyncio's own TLS layer (``create_server(ssl=)``; StompServer no
longer uses it), and one behind rpc.tls.direct, StompServer's TLS layer (the floor for anything
served on that layer and asyncio's loop).

The raw ping2 client loops like the echo client: send the frame, read until the reply is whole
(its final NUL), check it is a MESSAGE; the first reply is parsed and checked in full. (Until
this round it parsed every reply with rpc.stomp.codec.Parser, which timed the client's Python
too and, on a machine where client and server share the cores, cost the server cache misses as
well.)

With ``--rounds N`` the measures alternate N times (so a load spike on a shared machine hits
all of them alike) and the best of each is shown: the highest rate, and the lowest server CPU
time per round trip (user + system, from /proc), which depends much less on other load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rpc.client import Client
from rpc.stomp.codec import Parser, encode_frame
from rpc.tls.context import DEFAULT_TLS_READ_BUFFER, client_ssl_context, server_ssl_context
from rpc.tls.pki import init_pki

SETUPS = ("pool", "inline")
PING_ID = "00000000-0000-0000-0000-000000000000"


def serve_stomp(pki: str, setup: str) -> None:
    import logging

    from rpc.jsonrpc import Dispatcher
    from rpc.server import StompServer

    logging.basicConfig(level=logging.WARNING)
    dispatcher = Dispatcher()
    dispatcher.register("Host.ping2", lambda: None, inline=setup == "inline")
    opts: dict[str, Any] = {}
    if os.environ.get("RPC_BENCH_SSLBUF"):
        opts["tls_read_buffer"] = int(os.environ["RPC_BENCH_SSLBUF"])

    async def main() -> None:
        srv = StompServer(dispatcher, server_ssl_context(pki), "127.0.0.1", 0, **opts)
        await srv.start()
        print(srv.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def serve_echo(pki: str) -> None:
    ctx = server_ssl_context(pki)
    lsock = socket.create_server(("127.0.0.1", 0))
    print(lsock.getsockname()[1], flush=True)

    def echo(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as s:
            while data := s.recv(65536):
                s.sendall(data)

    def accept() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


class EchoProtocol(asyncio.Protocol):
    """The echo servers' protocol: every byte straight back."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def serve_asyncio_echo(pki: str) -> None:

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ctx = server_ssl_context(pki)
        srv = await loop.create_server(EchoProtocol, "127.0.0.1", 0, ssl=ctx)
        print(srv.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def serve_direct_echo(pki: str) -> None:
    """An echo protocol behind rpc.tls.direct, StompServer's TLS layer: the floor for any
    protocol served on that layer and asyncio's loop."""

    from rpc.tls.direct import accept_tls

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ctx = server_ssl_context(pki)
        lsock = socket.create_server(("127.0.0.1", 0))
        lsock.setblocking(False)
        print(lsock.getsockname()[1], flush=True)

        def accept() -> None:
            try:
                raw, _ = lsock.accept()
            except BlockingIOError:
                return
            raw.setblocking(False)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            accept_tls(loop, raw, ctx, EchoProtocol, read_size=DEFAULT_TLS_READ_BUFFER,
                       handshake_timeout=10.0)

        loop.add_reader(lsock.fileno(), accept)
        await loop.run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def spawn(mode: str, pki: str, *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, mode, pki, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def tls(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def ping_frame() -> bytes:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "Host.ping2",
            "params": {},
            "id": PING_ID,
        }
    )
    return encode_frame(
        "SEND",
        {
            "destination": "jms.topic.vdsm_requests",
            "content-type": "application/json",
            "reply-to": "bench",
        },
        body,
    )


def bench_stomp(port: int, ctx: ssl.SSLContext, seconds: float, pid: int) -> Measure:
    """The same loop shape as the echo: send the frame, read until the reply frame is whole
    (its NUL). The first reply is parsed and checked in full, every other one is checked to be
    a MESSAGE; parsing each with our Parser would time the client's Python, not the server."""
    s = tls(port, ctx)
    p = Parser()
    s.sendall(encode_frame("CONNECT", {"accept-version": "1.2"}))
    s.sendall(encode_frame("SUBSCRIBE", {"destination": "bench", "id": "1"}))
    while not p.feed(s.recv(65536)):
        pass  # CONNECTED
    frame = ping_frame()

    def once() -> bytes:
        s.sendall(frame)
        data = s.recv(65536)
        while not data.endswith(b"\x00"):
            data += s.recv(65536)
        if not data.startswith(b"MESSAGE\n"):
            raise RuntimeError(f"not a MESSAGE: {data[:80]!r}")
        return data

    (reply,) = p.feed(once())
    expected = {"jsonrpc": "2.0", "id": PING_ID, "result": True}
    if reply.headers.get("destination") != "bench" or json.loads(reply.text()) != expected:
        raise RuntimeError(f"unexpected reply {reply}")
    return rate(once, seconds, s, pid)


def bench_echo(port: int, ctx: ssl.SSLContext, size: int, seconds: float, pid: int) -> Measure:
    s = tls(port, ctx)
    payload = b"x" * size

    def once() -> None:
        s.sendall(payload)
        n = 0
        while n < size:
            n += len(s.recv(65536))

    return rate(once, seconds, s, pid)


def bench_client(port: int, ctx: ssl.SSLContext, seconds: float, pid: int) -> Measure:
    cli = Client.connect("127.0.0.1", port, ssl_context=ctx, timeout=10)
    try:
        return rate(lambda: cli.call("Host.ping2"), seconds, None, pid)
    finally:
        cli.close()


Measure = tuple[float, float]  # round trips per second, server CPU microseconds per round trip


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(once: object, seconds: float, sock: ssl.SSLSocket | None, pid: int) -> Measure:
    assert callable(once)
    for _ in range(200):
        once()
    n, cpu0, start = 0, cpu_seconds(pid), time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            once()
        n += 100
    cpu = cpu_seconds(pid) - cpu0
    if sock is not None:
        sock.close()
    return n / elapsed, 1e6 * cpu / n


def idle_rss(port: int, pid: int, ctx: ssl.SSLContext, count: int) -> tuple[float, float]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    before = rss_mb(pid)
    socks = []
    for _ in range(count):
        s = tls(port, ctx)
        s.sendall(encode_frame("CONNECT", {"accept-version": "1.2"}))
        Parser().feed(s.recv(4096))
        socks.append(s)
    time.sleep(1)
    after = rss_mb(pid)
    for s in socks:
        s.close()
    return before, after


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    rates: dict[str, float] = {}
    cpus: dict[str, float] = {}
    rss: dict[str, tuple[float, float]] = {}

    def best(key: str, value: Measure) -> None:
        rates[key] = max(rates.get(key, 0.0), value[0])
        cpus[key] = min(cpus.get(key, float("inf")), value[1])

    with tempfile.TemporaryDirectory() as tmp:
        init_pki(tmp, host_cn="localhost")
        ctx = client_ssl_context(tmp)
        procs = {s: spawn("--serve-stomp", tmp, s) for s in SETUPS}
        echo_proc, echo_port = spawn("--serve-echo", tmp)
        aecho_proc, aecho_port = spawn("--serve-asyncio-echo", tmp)
        decho_proc, decho_port = spawn("--serve-direct-echo", tmp)
        size = len(ping_frame())
        try:
            for _ in range(args.rounds):
                best("echo", bench_echo(echo_port, ctx, size, args.seconds, echo_proc.pid))
                best("aecho", bench_echo(aecho_port, ctx, size, args.seconds, aecho_proc.pid))
                best("decho", bench_echo(decho_port, ctx, size, args.seconds, decho_proc.pid))
                for setup, (proc, port) in procs.items():
                    best(f"raw-{setup}", bench_stomp(port, ctx, args.seconds, proc.pid))
                    best(f"lib-{setup}", bench_client(port, ctx, args.seconds, proc.pid))
            for setup, (proc, port) in procs.items():
                rss[setup] = idle_rss(port, proc.pid, ctx, args.idle)
        finally:
            for proc, _ in procs.values():
                stop(proc)
            stop(echo_proc)
            stop(aecho_proc)
            stop(decho_proc)
    echo = rates["echo"]
    rows: list[tuple[str, str]] = [
        (f"TLS echo loop, {size}-byte payload (round trips/s)", f"{echo:.0f}"),
        ("  server CPU per round trip (us)", f"{cpus['echo']:.0f}"),
        ("asyncio echo protocol behind asyncio's TLS (rt/s)", f"{rates['aecho']:.0f}"),
        ("  ratio to the echo loop", f"{100 * rates['aecho'] / echo:.1f}%"),
        ("  server CPU per round trip (us)", f"{cpus['aecho']:.0f}"),
        ("asyncio echo protocol behind rpc.tls.direct (rt/s)", f"{rates['decho']:.0f}"),
        ("  ratio to the echo loop", f"{100 * rates['decho'] / echo:.1f}%"),
        ("  server CPU per round trip (us)", f"{cpus['decho']:.0f}"),
    ]
    for setup in SETUPS:
        raw, lib = rates[f"raw-{setup}"], rates[f"lib-{setup}"]
        before, after = rss[setup]
        rows += [
            (f"[{setup}] Host.ping2, raw socket (rt/s)", f"{raw:.0f}"),
            ("  ratio to the echo loop (goal >= 50 %)", f"{100 * raw / echo:.1f}%"),
            ("  server CPU per round trip (us)", f"{cpus[f'raw-{setup}']:.0f}"),
            (f"[{setup}] Host.ping2 via rpc.client.Client (rt/s)", f"{lib:.0f}"),
            ("  ratio to the echo loop", f"{100 * lib / echo:.1f}%"),
            (f"[{setup}] server RSS before idle connections (MB)", f"{before:.1f}"),
            (f"[{setup}] server RSS, {args.idle} idle TLS conns (MB)", f"{after:.1f}"),
        ]
    print(f"{'measure':<52}{'value':>10}")
    for name, value in rows:
        print(f"{name:<52}{value:>10}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-stomp":
        serve_stomp(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve-echo":
        serve_echo(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve-asyncio-echo":
        serve_asyncio_echo(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve-direct-echo":
        serve_direct_echo(sys.argv[2])
    else:
        sys.exit(main())
