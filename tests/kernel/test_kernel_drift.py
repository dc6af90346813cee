"""Drift detection on the real kernel (UML, fresh namespace): out-of-band changes made with
iproute2 reach the drift callback through real netlink events, are repaired in enforce mode, and
changes to unowned links are ignored. One test carries the event to a subscribed client over
mutual-TLS STOMP, as vdsm-netd will."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.client import Client
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.tls.pki import init_pki
from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.monitor import NetlinkMonitor
from vdsm_net.drift.monitor import DriftMonitor, DriftReport, Poke
from vdsm_net.engine.engine import Engine
from vdsm_net.verbs.api import HOST_CONN_EVENT, HostApi

WAIT = 20.0  # generous upper bound for "eventually"; never a pass/fail timing
NETWORKS: dict[str, Any] = {
    "net1": {"nic": "dummy_0", "bridged": True, "mtu": 9000,
             "ipaddr": "192.0.2.5", "netmask": "255.255.255.0"},
    "data": {"bonding": "bond0", "vlan": 100, "bridged": True},
}
BONDS: dict[str, Any] = {"bond0": {"nics": ["dummy_1", "dummy_2"], "options": "mode=1 miimon=100"}}
NOCHK = {"connectivityCheck": False}


class Reports:
    """The drift callback: collects reports; ``until`` waits for one that satisfies a test."""

    def __init__(self) -> None:
        self.got: list[DriftReport] = []
        self._cond = threading.Condition()

    def __call__(self, report: DriftReport) -> None:
        with self._cond:
            self.got.append(report)
            self._cond.notify_all()

    def until(self, pred: Callable[[DriftReport], bool]) -> DriftReport:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(pred(r) for r in self.got), WAIT)
            assert ok, f"no matching drift report; got {self.got}"
            return next(r for r in self.got if pred(r))


@pytest.fixture
def engine(backend: NetlinkBackend) -> Engine:
    eng = Engine(backend)
    eng.setup(NETWORKS, BONDS, NOCHK)
    return eng


def start(engine: Engine, mode: str, reports: Reports, netns: str) -> DriftMonitor:
    def events(sink: Poke) -> NetlinkMonitor:
        return NetlinkMonitor(sink, netns)

    return DriftMonitor(engine, mode, reports, events=events).start()


@pytest.fixture
def monitor_factory(
    engine: Engine, nics_ns: str
) -> Iterator[Callable[[str], tuple[DriftMonitor, Reports]]]:
    made: list[DriftMonitor] = []

    def make(mode: str) -> tuple[DriftMonitor, Reports]:
        reports = Reports()
        made.append(start(engine, mode, reports, nics_ns))
        assert made[-1].report.drift == ()
        return made[-1], reports

    yield make
    for mon in made:
        mon.stop()
        assert not mon.alive


OUT_OF_BAND = [
    (("link", "set", "net1", "mtu", "1500"), "net1.mtu: desired 9000, kernel 1500"),
    (("addr", "del", "192.0.2.5/24", "dev", "net1"), "net1: address 192.0.2.5/24 missing"),
    (("link", "set", "dummy_1", "nomaster"), "bond0: port dummy_1 detached"),
    (("link", "del", "net1"), "net1: missing"),
]
IDS = ["mtu", "address", "nomaster", "delete"]


@pytest.mark.parametrize(("cmd", "line"), OUT_OF_BAND, ids=IDS)
def test_out_of_band_change_is_reported(
    monitor_factory: Callable[[str], tuple[DriftMonitor, Reports]], nics_ns: str,
    backend: NetlinkBackend, cmd: tuple[str, ...], line: str,
) -> None:
    mon, reports = monitor_factory("report")
    writes = backend.writes
    ip("-n", nics_ns, *cmd)
    report = reports.until(lambda r: line in r.drift)
    assert report.mode == "report" and report.repaired == ()
    assert mon.report.drift and backend.writes == writes  # reported, not repaired


@pytest.mark.parametrize(("cmd", "line"), OUT_OF_BAND, ids=IDS)
def test_out_of_band_change_is_repaired_in_enforce_mode(
    monitor_factory: Callable[[str], tuple[DriftMonitor, Reports]], nics_ns: str,
    engine: Engine, backend: NetlinkBackend, cmd: tuple[str, ...], line: str,
) -> None:
    before = backend.observe()
    _mon, reports = monitor_factory("enforce")
    ip("-n", nics_ns, *cmd)
    report = reports.until(lambda r: line in r.repaired)
    assert report.drift == () and report.error == ""
    after = backend.observe()
    for name in ("net1", "bond0", "dummy_0", "dummy_1", "bond0.100", "data"):
        assert after.links[name].with_(mac=None) == before.links[name].with_(mac=None), name
    assert after.addresses_of("net1") == before.addresses_of("net1")


def test_unowned_links_are_ignored(
    monitor_factory: Callable[[str], tuple[DriftMonitor, Reports]], nics_ns: str,
    backend: NetlinkBackend,
) -> None:
    mon, reports = monitor_factory("enforce")
    writes = backend.writes
    ip("-n", nics_ns, "link", "add", "vmbr9", "type", "bridge")
    ip("-n", nics_ns, "link", "set", "vmbr9", "mtu", "1400")
    ip("-n", nics_ns, "addr", "add", "203.0.113.1/24", "dev", "vmbr9")
    ip("-n", nics_ns, "link", "set", "vmbr9", "up")
    ip("-n", nics_ns, "link", "set", "veth_0", "mtu", "1280")
    # a managed change after them: its report proves the foreign events were read first
    ip("-n", nics_ns, "link", "set", "net1", "mtu", "1500")
    reports.until(lambda r: "net1.mtu: desired 9000, kernel 1500" in r.repaired)
    assert mon.ignored >= 4
    assert all(line.startswith("net1") for r in reports.got for line in r.repaired + r.drift)
    state = backend.observe()
    assert state.links["vmbr9"].mtu == 1400 and state.links["veth_0"].mtu == 1280
    assert [a.address for a in state.addresses_of("vmbr9")] == ["203.0.113.1/24"]
    assert backend.writes > writes  # the repair of net1 wrote, nothing touched the others


def test_the_agents_own_apply_is_not_drift(
    monitor_factory: Callable[[str], tuple[DriftMonitor, Reports]], engine: Engine,
) -> None:
    mon, reports = monitor_factory("enforce")
    engine.setup({"net2": {"nic": "veth_0", "vlan": 7, "mtu": 1400}}, {}, NOCHK)
    engine.setup({"net2": {"remove": True}}, {}, NOCHK)
    assert mon.check().drift == ()
    assert reports.got == []  # no repair happened, nothing was said


def test_drift_event_reaches_a_subscribed_client(
    engine: Engine, nics_ns: str, tmp_path: Path
) -> None:
    pki = tmp_path / "pki"
    init_pki(pki, host_cn="localhost")
    dispatcher = Dispatcher(ready=False)
    server = StompServer(dispatcher, server_ssl_context(pki), "127.0.0.1", 0)
    api = HostApi(engine, publish=server.publish_event)
    api.register(dispatcher.register)
    got: list[tuple[str, dict[str, Any]]] = []
    arrived = threading.Event()

    def on_event(method: str, params: dict[str, Any]) -> None:
        got.append((method, params))
        arrived.set()

    reports = Reports()

    def on_change(report: DriftReport) -> None:
        reports(report)
        api.emit_host_conn()

    with BackgroundServer(server) as bg:
        dispatcher.ready = True
        mon = start(engine, "report", reports, nics_ns)
        mon.on_change = on_change
        try:
            with Client.connect("127.0.0.1", bg.port, pki_dir=pki, timeout=WAIT) as client:
                client.subscribe_events(on_event)
                assert client.call("Host.ping2") is True  # the subscription is in place
                ip("-n", nics_ns, "link", "set", "net1", "mtu", "1500")
                assert arrived.wait(WAIT)
        finally:
            mon.stop()
    assert got[0][0] == HOST_CONN_EVENT and isinstance(got[0][1]["notify_time"], int)
    assert "net1.mtu: desired 9000, kernel 1500" in reports.got[0].drift
