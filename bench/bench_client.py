"""rpc.client.Client's Host.ping2 round trips against a bare TLS echo loop, in the same run.

    .venv/bin/python bench/bench_client.py [--seconds 3] [--rounds 3] [--profile]

The servers are bench_rpc's, each in its own process: the blocking TLS echo server (payload of
the ping2 SEND frame's size, same certificates and server context) and a StompServer with
ping2 inline. Measured here, one call at a time: the echo loop, the raw-socket ping2 loop (what
the server alone allows), ``Client.call("Host.ping2")``, and the same on a client subscribed to
the events (as the cluster manager's are: rpc.tls.watch's thread then watches it too). With
``--rounds N`` they alternate and the best rate of each is shown. The goal for the client is
at least 50 % of the echo loop.
``--profile`` then runs the client loop under cProfile and prints where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import ssl
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_rpc import (
    bench_client,
    bench_echo,
    bench_stomp,
    ping_frame,
    rate,
    spawn,
    stop,
)
from rpc.client import Client
from rpc.tls.context import client_ssl_context
from rpc.tls.pki import init_pki


def bench_subscribed(port: int, ctx: ssl.SSLContext, seconds: float, pid: int) -> float:
    cli = Client.connect("127.0.0.1", port, ssl_context=ctx, timeout=10)
    try:
        cli.subscribe_events(lambda _method, _params: None)
        return rate(lambda: cli.call("Host.ping2"), seconds, None, pid)[0]
    finally:
        cli.close()


def profile(port: int, pki: str, calls: int) -> None:
    cli = Client.connect("127.0.0.1", port, pki_dir=pki, timeout=10)
    prof = cProfile.Profile()
    try:
        prof.enable()
        for _ in range(calls):
            cli.call("Host.ping2")
        prof.disable()
    finally:
        cli.close()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        init_pki(tmp, host_cn="localhost")
        ctx = client_ssl_context(tmp)
        stomp_proc, stomp_port = spawn("--serve-stomp", tmp, "inline")
        echo_proc, echo_port = spawn("--serve-echo", tmp)
        size = len(ping_frame())
        try:
            for _ in range(args.rounds):
                for key, rate in (
                    ("echo", bench_echo(echo_port, ctx, size, args.seconds, echo_proc.pid)[0]),
                    ("raw", bench_stomp(stomp_port, ctx, args.seconds, stomp_proc.pid)[0]),
                    ("client", bench_client(stomp_port, ctx, args.seconds, stomp_proc.pid)[0]),
                    ("events", bench_subscribed(stomp_port, ctx, args.seconds, stomp_proc.pid)),
                ):
                    rates[key] = max(rates.get(key, 0.0), rate)
            if args.profile:
                profile(stomp_port, tmp, 20000)
        finally:
            stop(stomp_proc)
            stop(echo_proc)
    echo = rates["echo"]
    print(f"best of {args.rounds} rounds of {args.seconds:g} s, {size}-byte payload")
    print(f"{'loop':<46}{'rt/s':>10}{'vs echo':>10}")
    for key, label in (("echo", "bare TLS echo loop"), ("raw", "Host.ping2, raw socket"),
                       ("client", "Host.ping2 via rpc.client.Client (goal 50 %)"),
                       ("events", "  the same, subscribed to the events")):
        print(f"{label:<46}{rates[key]:>10.0f}{100 * rates[key] / echo:>9.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
