"""What TLS session resumption buys the agent: handshake time over loopback mutual TLS, full
handshakes against resumed ones (TLS 1.3 session tickets), with the project's own contexts.

    .venv/bin/python bench/bench_tls_resume.py [--handshakes 300] [--rounds 3]

The server is a blocking thread in this process, handshaking each accepted socket with
rpc.tls.context's server context, optionally with tickets on (``num_tickets`` 2, OpenSSL's
default) so that a client may resume. The client handshakes ``--handshakes`` times in a row
with the same client context, each time on a fresh TCP connection, and reads one byte the
server writes after its handshake (so that the tickets, sent after the handshake in TLS 1.3,
are read and the handshake is really over on both sides). Three measures alternate
``--rounds`` times, the best of each shown:

- ``full, tickets off``: what the agent does with ``num_tickets = 0``;
- ``full, tickets on``: the same with tickets sent and never used (a client that does not
  resume, as the engine's does not between its few long-lived connections);
- ``resumed``: the client offers the previous connection's session each time.

The time per handshake is the wall time of connect, handshake and first byte, client and
server sharing the machine's cores as they do on a host.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rpc.tls.context import client_ssl_context, server_ssl_context
from rpc.tls.pki import init_pki


def serve(ctx: ssl.SSLContext) -> tuple[socket.socket, threading.Thread]:
    lsock = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                raw, _ = lsock.accept()
            except OSError:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the agent does
            try:
                with ctx.wrap_socket(raw, server_side=True) as s:
                    s.sendall(b"!")
                    s.recv(1)  # the client's close
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lsock, thread


def handshakes(port: int, ctx: ssl.SSLContext, count: int, resume: bool) -> tuple[float, int]:
    """Seconds per handshake, and how many were resumed."""
    session: ssl.SSLSession | None = None
    resumed = 0
    start = time.perf_counter()
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        if s.recv(1) != b"!":
            raise RuntimeError("no byte after the handshake")
        resumed += bool(s.session_reused)
        if resume:
            session = s.session
        s.close()
    return (time.perf_counter() - start) / count, resumed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--handshakes", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    best: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        init_pki(tmp, host_cn="localhost")
        client = client_ssl_context(tmp)
        off = server_ssl_context(tmp)
        on = server_ssl_context(tmp)
        on.num_tickets = 2
        servers = {name: serve(ctx) for name, ctx in (("off", off), ("on", on))}
        ports = {name: lsock.getsockname()[1] for name, (lsock, _) in servers.items()}
        cases = (("full, tickets off", "off", False), ("full, tickets on", "on", False),
                 ("resumed", "on", True))
        try:
            for _ in range(args.rounds):
                for label, server, resume in cases:
                    got = handshakes(ports[server], client, args.handshakes, resume)
                    if label not in best or got[0] < best[label][0]:
                        best[label] = got
        finally:
            for lsock, _ in servers.values():
                lsock.close()
    base = best["full, tickets off"][0]
    print(f"{args.handshakes} handshakes per measure, best of {args.rounds}, "
          f"{ssl.OPENSSL_VERSION}")
    print(f"{'handshake':<22}{'ms each':>10}{'vs off':>9}{'resumed':>9}")
    for label, (secs, resumed) in best.items():
        print(f"{label:<22}{secs * 1000:>10.3f}{secs / base:>8.2f}x{resumed:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
