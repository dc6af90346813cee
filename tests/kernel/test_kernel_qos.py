"""Host QoS on the real kernel (fresh namespace in the guest): the HFSC tree the engine writes is
the one iproute2's ``tc`` reads back (an oracle independent of our codec), a re-apply writes
nothing, a failed setup puts the tree back, and a tree changed behind the agent's back is seen
as drift and repaired."""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import pytest

from tests.common.parity_scenarios import qos
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.monitor import NetlinkMonitor
from vdsm_net.drift.monitor import DriftMonitor, DriftReport
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import NetworkError

M = 1_000_000
NOCHK = {"connectivityCheck": False}
NETS: dict[str, Any] = {
    "red": {"nic": "dummy_0", "vlan": 10, "hostQos": qos(20, 100 * M, 50 * M)},
    "blue": {"nic": "dummy_0", "vlan": 20, "bridged": False, "hostQos": qos(50)},
}


def tc_text(ns: str, *args: str) -> str:
    return subprocess.run(["tc", "-n", ns, *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def engine(backend: NetlinkBackend) -> Engine:
    eng = Engine(backend)
    eng.setup(NETS, {}, NOCHK)
    return eng


def test_tc_reads_back_the_tree(engine: Engine, nics_ns: str) -> None:
    # tc's JSON for hfsc is not JSON (iproute2 6.1 prints "options":{default 1388 }): text
    qdiscs = tc_text(nics_ns, "qdisc", "show", "dev", "dummy_0")
    assert "qdisc hfsc 1389: root refcnt 2 default 1388" in qdiscs
    for handle, parent in (("a:", "1389:a"), ("14:", "1389:14"), ("1388:", "1389:1388")):
        assert f"qdisc fq_codel {handle} parent {parent} " in qdiscs
    classes = tc_text(nics_ns, "class", "show", "dev", "dummy_0")
    assert "class hfsc 1389:a parent 1389: leaf a: rt m1 0bit d 0us m2 50Mbit " \
           "ls m1 0bit d 0us m2 160bit ul m1 0bit d 0us m2 100Mbit" in classes
    assert "class hfsc 1389:14 parent 1389: leaf 14: ls m1 0bit d 0us m2 400bit" in classes
    assert "class hfsc 1389:1388 parent 1389: leaf 1388: ls m1 0bit d 0us m2 400bit" in classes
    filters = tc_text(nics_ns, "filter", "show", "dev", "dummy_0", "parent", "1389:")
    assert "meta(vlan eq 10)" in filters and "meta(vlan eq 20)" in filters
    assert "flowid 1389:a" in filters and "flowid 1389:14" in filters
    assert "pref 5000 u32" in filters
    for vlan_dev in ("dummy_0.10", "dummy_0.20"):  # never on the VLAN (nor the bridge)
        assert "hfsc" not in tc_text(nics_ns, "qdisc", "show", "dev", vlan_dev)


def test_reapply_writes_nothing_and_caps_report_the_kernel(engine: Engine) -> None:
    assert engine.plan(NETS, {}, NOCHK) == []
    state = engine.backend.observe()
    assert compare(engine.running, state) == []
    again = Engine(engine.backend, adopt(state))
    assert again.plan(NETS, {}, NOCHK) == []
    assert again.running.networks["red"].host_qos == engine.running.networks["red"].host_qos


def test_a_refused_request_and_a_failed_check_leave_the_tree(engine: Engine,
                                                              nics_ns: str) -> None:
    before = engine.backend.observe().tc
    with pytest.raises(NetworkError) as info:
        engine.setup({"blue": {"nic": "dummy_0", "vlan": 20, "bridged": False}}, {}, NOCHK)
    assert info.value.code == 21
    changed = {"red": {**NETS["red"], "hostQos": qos(70, rt=10 * M)},
               "blue": {**NETS["blue"], "hostQos": qos(5)}}
    with pytest.raises(NetworkError) as info:  # nobody confirms connectivity: rollback
        engine.setup(changed, {}, {"connectivityCheck": True, "connectivityTimeout": 1})
    assert info.value.code == 10
    assert engine.backend.observe().tc == before


def test_drift_sees_a_deleted_tree_and_the_engine_repairs_it(engine: Engine,
                                                             nics_ns: str) -> None:
    subprocess.run(["tc", "-n", nics_ns, "class", "change", "dev", "dummy_0", "parent", "1389:",
                    "classid", "1389:14", "hfsc", "ls", "m2", "800bit"], check=True)
    drift = compare(engine.running, engine.backend.observe())
    assert any("1389:14" in line and "desired" in line for line in drift), drift
    subprocess.run(["tc", "-n", nics_ns, "qdisc", "del", "dev", "dummy_0", "root"], check=True)
    drift = compare(engine.running, engine.backend.observe())
    assert any("qdisc hfsc 1389:" in line and "missing" in line for line in drift), drift
    result = engine.reconcile()
    assert result.writes > 0
    assert compare(engine.running, engine.backend.observe()) == []
    assert "meta(vlan eq 20)" in tc_text(nics_ns, "filter", "show", "dev", "dummy_0",
                                         "parent", "1389:")


def test_removing_the_last_qos_network_removes_the_root(engine: Engine, nics_ns: str) -> None:
    engine.setup({"blue": {"remove": True}}, {}, NOCHK)
    assert "1389:14" not in tc_text(nics_ns, "class", "show", "dev", "dummy_0")
    engine.setup({"red": {"remove": True}}, {}, NOCHK)
    assert "hfsc" not in tc_text(nics_ns, "qdisc", "show", "dev", "dummy_0")
    assert engine.backend.observe().tc == frozenset()


def test_a_tc_change_reaches_the_drift_monitor_as_an_event(engine: Engine,
                                                           nics_ns: str) -> None:
    """The netlink monitor subscribes to the tc group: a filter deleted with tc is reported
    through its event (the periodic compare is an hour away here) and enforce repairs it."""
    reports: list[DriftReport] = []
    got = threading.Event()

    def on_change(report: DriftReport) -> None:
        reports.append(report)
        got.set()

    mon = DriftMonitor(engine, "enforce", on_change, interval=3600.0,
                       events=lambda sink: NetlinkMonitor(sink, nics_ns)).start()
    try:
        subprocess.run(["tc", "-n", nics_ns, "filter", "del", "dev", "dummy_0", "parent",
                        "1389:", "pref", "20"], check=True)
        deadline = time.monotonic() + 20.0
        while not any(r.repaired for r in reports):
            assert time.monotonic() < deadline, reports
            got.wait(0.2)
            got.clear()
    finally:
        mon.stop()
    assert any("meta(vlan eq 20)" in line for r in reports for line in r.repaired)
    assert "meta(vlan eq 20)" in tc_text(nics_ns, "filter", "show", "dev", "dummy_0",
                                         "parent", "1389:")


def test_the_netlink_monitor_names_the_link_of_a_tc_event(nics_ns: str) -> None:
    """On a down link with no address (no other event can name it), a qdisc added and deleted
    with tc reaches the monitor's sink: it subscribes to the tc group and reads tcmsg's index."""
    subprocess.run(["ip", "-n", nics_ns, "link", "add", "quiet0", "type", "dummy"], check=True)
    seen: list[frozenset[str | None]] = []
    got = threading.Event()

    def sink(names: frozenset[str | None]) -> None:
        seen.append(names)
        got.set()

    mon = NetlinkMonitor(sink, nics_ns).start()
    try:
        for verb in ("add", "del"):
            subprocess.run(["tc", "-n", nics_ns, "qdisc", verb, "dev", "quiet0", "root",
                            "handle", "1389:", "hfsc"], check=True)
        deadline = time.monotonic() + 20.0
        while not any("quiet0" in names for names in seen):
            assert time.monotonic() < deadline, seen
            got.wait(0.2)
            got.clear()
    finally:
        mon.stop()
