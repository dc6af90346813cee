"""The agent's service side, wired by ``vdsm_net.agent``: certificate subjects for the call log,
SIGHUP (reload the PKI and the hooks), the drift and lease lines, the health answer, and the
one-line failures at start."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from rpc.server import StompServer, server_ssl_context
from vdsm_net.drift.monitor import DriftReport
from vdsm_net.ops.metrics import Metrics

log = logging.getLogger("vdsm-netd")


def subject_text(peercert: Any) -> str:
    """``CN=engine,O=VDSM Certificate`` from ``SSLSocket.getpeercert()``'s nested tuples."""
    if not isinstance(peercert, dict):
        return "-"
    parts = []
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            parts.append(f"{short.get(key, key)}={value}")
    return ",".join(parts) or "-"


def subject_lookup(server: StompServer) -> Callable[[int], str]:
    """The certificate subject of the connection whose session has this id (read at the first
    call of each connection and remembered while it stays open)."""
    known: dict[int, str] = {}

    def subject_of(connection_id: int) -> str:
        if connection_id in known:
            return known[connection_id]
        for conn in list(server.connections):
            session = conn.session
            if session is not None and session.id == connection_id and conn.transport:
                text = subject_text(conn.transport.get_extra_info("peercert"))
                if len(known) > 4 * max(len(server.connections), 256):
                    known.clear()
                known[connection_id] = text
                return text
        return "-"

    return subject_of


class StartError(Exception):
    """The agent cannot start (a port is taken): one line, exit status 2."""


class HasHooks(Protocol):
    hooks: Any


def reload(server: StompServer, pki: str, api: HasHooks, make_hooks: Callable[[], Any]) -> bool:
    """SIGHUP: a new TLS context for new connections (open ones keep theirs) and the hooks read
    again. A PKI that fails to load leaves the old one in place."""
    try:
        ctx = server_ssl_context(pki)
    except (OSError, ValueError) as exc:  # PkiError and ssl.SSLError are OSError/ValueError
        log.error("reload: PKI in %s not loaded, keeping the old one: %s", pki, exc)
        return False
    server.ssl_context = ctx
    api.hooks = make_hooks()
    hooks = api.hooks.inventory() if hasattr(api.hooks, "inventory") else {}
    log.info("reload: PKI from %s for new connections; %d hook scripts", pki,
             sum(len(v) for v in hooks.values()))
    return True


def drift_seen(metrics: Metrics | None) -> Callable[[DriftReport], None]:
    """The drift line (and counters) for each changed drift report."""
    def seen(report: DriftReport) -> None:
        if report.drift:
            log.warning("drift seen (%s): %s", report.mode, "; ".join(report.drift))
        if report.repaired:
            log.info("drift repaired: %s", "; ".join(report.repaired))
        if report.error:
            log.error("drift repair failed: %s", report.error)
        if metrics is not None:
            metrics.drift.labels("seen").inc(len(report.drift))
            metrics.drift.labels("repaired").inc(len(report.repaired))
    return seen


def lease_seen(leases: Callable[[], dict[str, dict[str, Any]]],
               metrics: Metrics | None) -> None:
    """The lease line: each interface's address and lifetime."""
    current = leases()
    for ifname, lease in sorted(current.items()):
        log.info("dhcp lease on %s: %s via %s for %s s", ifname, lease.get("address", "?"),
                 lease.get("router") or "-", lease.get("lease", "?"))
    if metrics is not None:
        metrics.leases.set(len(current))


def setup_counter(metrics: Metrics | None) -> Callable[[int, int, float, bool], None] | None:
    """The engine's ``on_setup`` for the plan-size, apply-time and rollback metrics."""
    if metrics is None:
        return None

    def on_setup(ops: int, writes: int, seconds: float, rolled_back: bool) -> None:
        del writes
        if rolled_back:
            metrics.rollbacks.inc()
        else:
            metrics.applied(ops, seconds)
    return on_setup
