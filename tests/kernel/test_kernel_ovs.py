"""OVS networks on the real kernel with Debian's Open vSwitch daemons (ovs-vswitchd in the test's
namespace, its database under /run): what lands (checked with iproute2 and ovs-vsctl), caps,
restart adoption, drift, rollback at a write, and removal; each matches the simulated kernel."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.common.iproute import ip
from tests.common.ovs_daemons import open_vswitch
from tests.common.parity_ovs import ovs_params
from tests.common.parity_runner import run_on_both
from tests.common.parity_scenarios import Scenario
from tests.kernel.conftest import NetlinkWorld
from tests.kernel.test_kernel_dhcp import dhcp_server  # noqa: F401 (a fixture)
from tests.kernel.test_kernel_drift import Reports
from tests.kernel.test_kernel_faults import FailAt, snapshot
from vdsm_net.backends.base import Backend
from vdsm_net.backends.ovs.backend import OvsBackend
from vdsm_net.backends.ovs.monitor import OvsdbMonitor
from vdsm_net.drift.monitor import DriftMonitor, Poke
from vdsm_net.dynamic.dhcp import DhcpManager
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import MAIN_TABLE
from vdsm_net.model.ovs import OVSDB_TAG_KEY, ovs_bridge_name
from vdsm_net.verbs import schema
from vdsm_net.verbs.caps import network_caps
from vdsm_net.verbs.stats import network_statistics

NOCHK = {"connectivityCheck": "false"}
BR0, BRB = ovs_bridge_name("dummy_0"), ovs_bridge_name("bond0")
NETS: dict[str, Any] = {
    "red": {"nic": "dummy_0", "vlan": "10", "mtu": 9000, "switch": "ovs",
            "ipaddr": "192.0.2.5", "prefix": "24", "gateway": "192.0.2.1"},
    "blue": {"nic": "dummy_0", "bridged": "false", "switch": "ovs",
             "ipv6addr": "2001:db8::5/64"},
    "green": {"bonding": "bond0", "vlan": 20, "switch": "ovs", "mtu": 4000,
              "ipaddr": "198.51.100.7", "netmask": "255.255.255.0"},
}
BONDS: dict[str, Any] = {"bond0": {"nics": ["dummy_1", "dummy_2"], "switch": "ovs",
                                   "options": "mode=active-backup miimon=100"}}


@pytest.fixture
def remote(nics_ns: str) -> Iterator[str]:
    with open_vswitch(nics_ns) as db:
        yield db


@pytest.fixture
def ovs_backend(nics_ns: str, remote: str) -> Iterator[OvsBackend]:
    be = OvsBackend(remote, netns=nics_ns)
    try:
        yield be
    finally:
        be.close()


def vsctl(remote: str, *args: str) -> str:
    done = subprocess.run(["ovs-vsctl", f"--db={remote}", *args], capture_output=True,
                          text=True, check=True, timeout=60)
    return done.stdout.strip()


def links(ns: str) -> dict[str, dict[str, Any]]:
    out = subprocess.run(["ip", "-n", ns, "-j", "-d", "addr"], capture_output=True, text=True,
                         check=True).stdout
    return {lk["ifname"]: lk for lk in json.loads(out)}


def test_ovs_networks_land_on_open_vswitch(nics_ns: str, remote: str,
                                           ovs_backend: OvsBackend) -> None:
    engine = Engine(ovs_backend)
    engine.setup(NETS, BONDS, NOCHK)
    assert sorted(vsctl(remote, "list-br").split()) == sorted([BR0, BRB])
    assert sorted(vsctl(remote, "list-ports", BR0).split()) == ["blue", "dummy_0", "red"]
    assert sorted(vsctl(remote, "list-ports", BRB).split()) == ["bond0", "green"]
    assert vsctl(remote, "get", "Port", "red", "tag") == "10"
    assert vsctl(remote, "get", "Port", "red", "external_ids:vdsm-net") == '"vdsm-net:net=red"'
    kernel = links(nics_ns)
    assert kernel["red"]["mtu"] == 9000 and kernel[BR0]["mtu"] == 9000
    assert kernel["dummy_0"]["mtu"] == 9000 and kernel["green"]["mtu"] == 4000
    assert kernel["red"]["address"] == kernel["dummy_0"]["address"] == kernel["blue"]["address"]
    assert kernel["green"]["address"] == kernel["bond0"]["address"]
    assert [a["local"] for a in kernel["red"]["addr_info"] if a["family"] == "inet"] == [
        "192.0.2.5"]
    assert not any(a["family"] == "inet" for a in kernel["dummy_0"]["addr_info"])
    assert engine.plan(NETS, BONDS, NOCHK) == []
    caps = network_caps(ovs_backend.observe(), engine.running, ovs_backend.nic_facts, [], False)
    schema.check(caps, schema.NETWORK_CAPS)
    assert caps["networks"]["red"]["switch"] == "ovs"
    assert caps["bridges"]["red"]["ports"] == ["dummy_0.10"]
    assert caps["vlans"]["bond0.20"]["iface"] == "bond0"
    stats = network_statistics(ovs_backend.observe(), ovs_backend.nic_facts)
    schema.check(stats, schema.NETWORK_STATISTICS)
    assert {"red", "blue", "green", "dummy_0", "bond0"} <= set(stats["network"])
    assert "ovs-system" not in stats["network"]  # the datapath, not a device of a network
    kernel_rx = subprocess.run(["ip", "-n", nics_ns, "-j", "-s", "link", "show", "red"],
                               capture_output=True, text=True, check=True).stdout
    assert int(stats["network"]["red"]["rx"]) <= json.loads(kernel_rx)[0]["stats64"]["rx"][
        "bytes"]  # the internal port's own counters (only growing between the two reads)


def test_restart_adopts_and_drift_is_seen_and_repaired(
    nics_ns: str, remote: str, ovs_backend: OvsBackend
) -> None:
    Engine(ovs_backend).setup(NETS, BONDS, NOCHK)
    second = Engine(ovs_backend, running=adopt(ovs_backend.observe()))
    assert second.plan(NETS, BONDS, NOCHK) == []
    assert second.running.networks["blue"].bridged is False
    vsctl(remote, "set", "Port", "green", "tag=21")
    vsctl(remote, "set", "Interface", "red", "mtu_request=1400")  # ovs-vswitchd undoes ip's
    deadline = time.monotonic() + 60
    while links(nics_ns)["red"]["mtu"] != 1400:
        assert time.monotonic() < deadline, "ovs-vswitchd did not apply mtu_request"
        time.sleep(0.2)
    drift = compare(second.running, ovs_backend.observe())
    assert any(line.startswith("green") for line in drift), drift
    assert any(line.startswith("red.mtu") for line in drift), drift
    second.reconcile()
    assert compare(second.running, ovs_backend.observe()) == []
    assert vsctl(remote, "get", "Port", "green", "tag") == "20"
    assert links(nics_ns)["red"]["mtu"] == 9000


def test_a_fault_rolls_back_exactly_and_removal_leaves_nothing(
    nics_ns: str, remote: str, ovs_backend: OvsBackend
) -> None:
    old = {"old": {"nic": "dummy_1", "switch": "ovs", "vlan": 3, "ipaddr": "203.0.113.3",
                   "prefix": "24"}}
    Engine(ovs_backend).setup(old, {}, NOCHK)
    change = {"red": NETS["red"], "blue": NETS["blue"], "old": {"remove": True}}
    total = len(Engine(ovs_backend, running=adopt(ovs_backend.observe())).plan(change, {}, NOCHK))
    assert total > 10
    before = ovs_backend.observe()
    for k in (0, total // 2, total - 1):
        engine = Engine(FailAt(ovs_backend, k), running=adopt(before))
        with pytest.raises(KernelError):
            engine.setup(change, {}, NOCHK)
        assert snapshot(ovs_backend.observe(), {"old"}) == snapshot(before, {"old"}), k
    engine = Engine(ovs_backend, running=adopt(before))
    engine.setup({"old": {"remove": True}}, {}, NOCHK)
    assert vsctl(remote, "list-br") == ""
    assert links(nics_ns)["dummy_1"]["mtu"] == 1500


class OvsWorld(NetlinkWorld):
    """The real kernel in a namespace with its Open vSwitch; foreign changes by iproute2."""

    def __init__(self, netns: str, ovs: OvsBackend) -> None:
        super().__init__(netns)
        self.ovs = ovs

    @property
    def backend(self) -> Backend:
        return self.ovs


@pytest.mark.parametrize("scenario", ovs_params())
def test_ovs_parity(nics_ns: str, ovs_backend: OvsBackend, scenario: Scenario) -> None:
    world = OvsWorld(nics_ns, ovs_backend)
    try:
        run_on_both(world, scenario, "ovs")
    finally:
        world.netlink.close()


@pytest.mark.usefixtures("dhcp_server")
def test_a_dhcp_ovs_network_gets_its_lease_on_the_internal_port(
    nics_ns: str, ovs_backend: OvsBackend, tmp_path: Path
) -> None:
    engine = Engine(ovs_backend)
    manager = DhcpManager(str(tmp_path / "run"), netns=nics_ns)
    try:
        nets = {"dnet": {"nic": "veth_0", "switch": "ovs", "bootproto": "dhcp",
                         "defaultRoute": True}}
        engine.setup(nets, {}, NOCHK)
        assert manager.apply(engine.running, blocking=["dnet"], timeout=60)
        state = ovs_backend.observe()
        [addr] = [a.address for a in state.addresses_of("dnet") if a.family == 4]
        assert addr.startswith("192.0.2.") and state.addresses_of("veth_0") == []
        assert [(r.oif, r.gateway, r.table) for r in state.routes if r.is_default] == [
            ("dnet", "192.0.2.1", MAIN_TABLE)]
        caps = network_caps(state, engine.running, ovs_backend.nic_facts, [], False)
        assert caps["networks"]["dnet"]["dhcpv4"] is True
        assert caps["networks"]["dnet"]["addr"] == addr.split("/")[0]
        assert engine.plan(nets, {}, NOCHK) == []
        engine.setup({"dnet": {"remove": True}}, {}, NOCHK)
        manager.apply(engine.running)
        assert manager.clients() == {} and "dnet" not in ovs_backend.observe().links
    finally:
        manager.close(release=True)


def ovsdb_drift(engine: Engine, mode: str, remote: str, reports: Reports) -> DriftMonitor:
    """A drift monitor fed by OVSDB's changes only, with no periodic compare in the test's
    time: what it reports came through the OVSDB monitor."""
    def events(sink: Poke) -> OvsdbMonitor:
        return OvsdbMonitor(sink, remote)

    return DriftMonitor(engine, mode, reports, interval=3600.0, events=events).start()


OVSDB_ONLY = [
    (("set", "Port", "green", "tag=21"), "green"),
    (("remove", "Port", "red", "external_ids", OVSDB_TAG_KEY), "red"),
    (("del-port", "blue"), "blue: missing"),
]


@pytest.mark.parametrize(("cmd", "line"), OVSDB_ONLY, ids=["tag", "external_ids", "del-port"])
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_change_made_in_ovsdb_only_reaches_drift_at_once(
    nics_ns: str, remote: str, ovs_backend: OvsBackend, mode: str, cmd: tuple[str, ...],
    line: str,
) -> None:
    engine = Engine(ovs_backend)
    engine.setup(NETS, BONDS, NOCHK)
    reports = Reports()
    mon = ovsdb_drift(engine, mode, remote, reports)
    try:
        assert mon.report.drift == ()
        vsctl(remote, *cmd)
        if mode == "report":
            report = reports.until(lambda r: any(d.startswith(line) for d in r.drift))
            assert report.repaired == ()
        else:
            report = reports.until(lambda r: any(d.startswith(line) for d in r.repaired))
            assert compare(engine.running, ovs_backend.observe()) == []
            assert vsctl(remote, "get", "Port", "green", "tag") == "20"
    finally:
        mon.stop()


def test_full_state_keeps_an_ovs_network_a_vm_port_uses(
    nics_ns: str, remote: str, ovs_backend: OvsBackend
) -> None:
    engine = Engine(ovs_backend)
    engine.setup(NETS, BONDS, NOCHK)
    ip("-n", nics_ns, "link", "add", "vm_tap0", "type", "veth", "peer", "name", "vm_tap0p")
    vsctl(remote, "add-port", BRB, "vm_tap0", "tag=20")
    result = engine.setup({"red": NETS["red"]}, {}, {**NOCHK, "fullState": True})
    assert result.kept_in_use == {"green": ["vm_tap0"]}
    assert sorted(vsctl(remote, "list-br").split()) == sorted([BR0, BRB])
    assert "blue" not in links(nics_ns) and "green" in links(nics_ns)
    assert compare(engine.running, ovs_backend.observe()) == []
