"""``--metrics HOST:PORT``: Prometheus text on ``/metrics`` and the health answer on ``/healthz``.

Off unless asked for; the address must be a loopback one (the endpoint has no TLS and no
authentication: scrape it through a local agent or an SSH tunnel). The metrics live in a
registry of their own, so nothing of the process's defaults leaks in.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

PLAN_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    """What the agent counts. Every method is safe from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("vdsm_net_calls", "Verb calls answered", ["verb", "code"], registry=r)
        self.latency = Histogram("vdsm_net_call_seconds", "Verb call duration", ["verb"],
                                 registry=r)
        self.plan_ops = Histogram("vdsm_net_plan_ops", "Ops in each applied plan",
                                  buckets=PLAN_BUCKETS, registry=r)
        self.apply_seconds = Histogram("vdsm_net_apply_seconds", "Seconds to apply a plan",
                                       registry=r)
        self.rollbacks = Counter("vdsm_net_rollbacks", "Setups reverted", registry=r)
        self.drift = Counter("vdsm_net_drift_events", "Drift seen or repaired", ["action"],
                             registry=r)
        self.clients = Gauge("vdsm_net_connected_clients", "Open client connections",
                             registry=r)
        self.leases = Gauge("vdsm_net_dhcp_leases", "DHCP leases held", registry=r)

    def call(self, verb: str, code: int, seconds: float) -> None:
        self.calls.labels(verb, str(code)).inc()
        self.latency.labels(verb).observe(seconds)

    def applied(self, ops: int, seconds: float) -> None:
        self.plan_ops.observe(ops)
        self.apply_seconds.observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def parse_metrics_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT`` with a loopback HOST; ValueError otherwise."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--metrics wants HOST:PORT, not {value!r}")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"--metrics must listen on a loopback address, not {host}")
    return host, int(port)


Health = Callable[[], dict[str, Any]]


def _handler(metrics: Metrics, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.text())
            elif path == "/healthz":
                state = health()
                ok = bool(state.get("ready")) and bool(state.get("backend"))
                body = json.dumps(state, sort_keys=True).encode() + b"\n"
                self._send(200 if ok else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics: " + format, *args)

    return Handler


class MetricsServer:
    """The HTTP endpoint in a daemon thread. ``port`` is the bound one (0 picks a free one)."""

    def __init__(self, host: str, port: int, metrics: Metrics, health: Health) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("MetricsHTTPServer", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = server_class((host, port), _handler(metrics, health))
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="metrics",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
