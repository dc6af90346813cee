"""The drift and lease lines and their counters, and /healthz answering 503 when the kernel
backend does not answer; the metrics address must be loopback."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Any

import pytest

from vdsm_net.drift.monitor import DriftReport
from vdsm_net.ops import service
from vdsm_net.ops.metrics import Metrics, MetricsServer, parse_metrics_address


def test_drift_seen_and_repaired_are_lines_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    seen = service.drift_seen(metrics)
    with caplog.at_level(logging.INFO):
        seen(DriftReport("enforce", drift=("vmnet.mtu: desired 1500, kernel 1400",),
                         repaired=("bond0: missing",)))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "drift seen (enforce): vmnet.mtu: desired 1500, kernel 1400"),
        ("INFO", "drift repaired: bond0: missing")]
    text = metrics.text().decode()
    assert 'vdsm_net_drift_events_total{action="seen"} 1.0' in text
    assert 'vdsm_net_drift_events_total{action="repaired"} 1.0' in text


def test_each_lease_is_a_line_and_the_gauge_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    leases: dict[str, dict[str, Any]] = {
        "ovirtmgmt": {"address": "192.0.2.7/24", "router": "192.0.2.1", "lease": 600},
        "vmnet": {"address": "198.51.100.9/24", "router": None, "lease": 60}}
    with caplog.at_level(logging.INFO):
        service.lease_seen(lambda: leases, metrics)
    assert [r.getMessage() for r in caplog.records] == [
        "dhcp lease on ovirtmgmt: 192.0.2.7/24 via 192.0.2.1 for 600 s",
        "dhcp lease on vmnet: 198.51.100.9/24 via - for 60 s"]
    assert "vdsm_net_dhcp_leases 2.0" in metrics.text().decode()


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize(("state", "status"), [
    ({"ready": True, "backend": True}, 200),
    ({"ready": False, "backend": True}, 503),
    ({"ready": True, "backend": False, "error": "netlink: timed out"}, 503),
])
def test_healthz(state: dict[str, Any], status: int) -> None:
    endpoint = MetricsServer("127.0.0.1", 0, Metrics(), lambda: state)
    endpoint.start()
    try:
        code, body = _status(f"http://127.0.0.1:{endpoint.port}/healthz")
    finally:
        endpoint.close()
    assert code == status and ("netlink: timed out" in body) == ("error" in state)


@pytest.mark.parametrize("value", ["127.0.0.1:9101", "[::1]:9101", "localhost:0"])
def test_loopback_metrics_addresses(value: str) -> None:
    assert parse_metrics_address(value)[1] in (9101, 0)


@pytest.mark.parametrize("value", ["0.0.0.0:9101", "[::]:9101", "192.0.2.1:9101", "host:9101"])
def test_other_metrics_addresses_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        parse_metrics_address(value)
