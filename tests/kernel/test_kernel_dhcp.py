"""DHCPv4, DHCPv6 and SLAAC against dnsmasq on the far end of a veth pair, in its own namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.dynamic.dhcp import DhcpManager
from vdsm_net.engine.engine import Engine
from vdsm_net.model.kernel import MAIN_TABLE, KernelState
from vdsm_net.verbs.caps import network_caps
from vdsm_net.verbs.shapes import NetworkCaps

NO_CHECK = {"connectivityCheck": False}
POOL = "192.0.2."


@pytest.fixture
def dhcp_server(nics_ns: str, tmp_path: Path) -> Iterator[str]:
    """dnsmasq serving DHCPv4, stateful DHCPv6 and router advertisements (A and M flags)
    behind veth_0 (the peer, veth_0p)."""
    assert shutil.which("dnsmasq"), "dnsmasq is missing (make deps-system installs it)"
    srv = nics_ns + "s"
    ip("netns", "add", srv)
    proc = None
    try:
        ip("-n", nics_ns, "link", "set", "veth_0p", "netns", srv)
        ip("-n", srv, "link", "set", "lo", "up")
        ip("-n", srv, "addr", "add", "192.0.2.1/24", "dev", "veth_0p")
        ip("-n", srv, "addr", "add", "2001:db8:1::1/64", "dev", "veth_0p", "nodad")
        ip("-n", srv, "link", "set", "veth_0p", "up")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", srv, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
             "--port=0", "--user=root", "--bind-interfaces", "--interface=veth_0p",
             f"--dhcp-leasefile={tmp_path}/leases", f"--pid-file={tmp_path}/dnsmasq.pid",
             "--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,2m",
             "--dhcp-option=3,192.0.2.1", "--dhcp-option=6,192.0.2.53",
             "--enable-ra", "--ra-param=veth_0p,3",
             "--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,slaac,64,2m",
             "--dhcp-option=option6:dns-server,[2001:db8:1::53]"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        yield srv
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(5)
        ip("netns", "del", srv)


@pytest.fixture
def world(nics_ns: str, dhcp_server: str, tmp_path: Path) -> Iterator[tuple[Engine, DhcpManager]]:
    backend = NetlinkBackend(netns=nics_ns)
    manager = DhcpManager(str(tmp_path / "run"), netns=nics_ns)
    try:
        yield Engine(backend), manager
    finally:
        manager.close(release=True)
        backend.close()


def until(fn: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.2)
    return fn()


def v4(state: KernelState, dev: str) -> list[str]:
    return [a.address for a in state.addresses_of(dev) if a.family == 4]


def setup(engine: Engine, manager: DhcpManager, nets: dict[str, object]) -> bool:
    engine.setup(nets, {}, NO_CHECK)
    return manager.apply(engine.running, blocking=list(nets), timeout=30)


def caps(engine: Engine) -> NetworkCaps:
    state = engine.backend.observe()
    return network_caps(state, engine.running, engine.backend.nic_facts, [], False)


@pytest.mark.parametrize("bridged", [True, False])
def test_dhcp_network_gets_its_lease_and_default_route(
    world: tuple[Engine, DhcpManager], bridged: bool
) -> None:
    engine, manager = world
    assert setup(engine, manager, {"dnet": {"nic": "veth_0", "bridged": bridged,
                                            "bootproto": "dhcp", "defaultRoute": True}})
    top = "dnet" if bridged else "veth_0"
    state = engine.backend.observe()
    [addr] = v4(state, top)
    assert addr.startswith(POOL) and addr.endswith("/24")
    defaults = [r for r in state.routes if r.is_default and r.family == 4]
    assert [(r.oif, r.gateway, r.table) for r in defaults] == [(top, "192.0.2.1", MAIN_TABLE)]
    net = caps(engine)["networks"]["dnet"]
    assert net["dhcpv4"] is True and net["ipv4defaultroute"] is True
    assert net["addr"] == addr.split("/")[0] and net["gateway"] == "192.0.2.1"
    lease = manager.leases()[top]
    assert lease["dns"] == ["192.0.2.53"] and lease["address"] == addr
    assert manager.poll() is True and manager.poll() is False  # a new lease is reported once

    # another setup leaves the lease alone
    engine.setup({"other": {"nic": "dummy_0", "bridged": False, "ipaddr": "10.9.0.1",
                            "netmask": "255.255.0.0"}}, {}, NO_CHECK)
    assert v4(engine.backend.observe(), top) == [addr]

    # removal releases the lease and stops the client
    pid = manager.clients()[top]
    engine.setup({"dnet": {"remove": True}}, {}, NO_CHECK)
    manager.apply(engine.running)
    assert manager.clients() == {}
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    state = engine.backend.observe()
    assert v4(state, "veth_0") == [] and not manager.state_file(top).exists()
    assert not [r for r in state.routes if r.gateway == "192.0.2.1"]


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().split()[2] == "Z"


def test_non_default_dhcp_network_uses_its_source_table_and_rules(
    world: tuple[Engine, DhcpManager],
) -> None:
    engine, manager = world
    assert setup(engine, manager, {"dnet": {"nic": "veth_0", "bridged": False,
                                            "bootproto": "dhcp"}})
    state = engine.backend.observe()
    [addr] = v4(state, "veth_0")
    table = manager.leases()["veth_0"]["table"]
    assert table != MAIN_TABLE
    assert {(r.dst, r.gateway, r.table) for r in state.routes if r.oif == "veth_0"} == {
        ("0.0.0.0/0", "192.0.2.1", table), ("192.0.2.0/24", None, table)}
    assert {(r.src, r.dst) for r in state.rules if r.table == table} == {
        ("192.0.2.0/24", None), (None, "192.0.2.0/24")}
    net = caps(engine)["networks"]["dnet"]
    assert net["gateway"] == "192.0.2.1" and net["ipv4defaultroute"] is False

    # switching to static leaves no lease, route, rule or client behind
    engine.setup({"dnet": {"nic": "veth_0", "bridged": False, "ipaddr": "192.0.2.7",
                           "netmask": "255.255.255.0"}}, {}, NO_CHECK)
    manager.apply(engine.running)
    state = engine.backend.observe()
    assert v4(state, "veth_0") == ["192.0.2.7/24"]
    assert not [r for r in state.rules if r.table == table]
    assert not [r for r in state.routes if r.table == table]
    assert manager.clients() == {}

    # and back to DHCP
    assert setup(engine, manager, {"dnet": {"nic": "veth_0", "bridged": False,
                                            "bootproto": "dhcp"}})
    assert until(lambda: v4(engine.backend.observe(), "veth_0") == [addr])


def test_ipv6_autoconf_address_appears_and_survives_a_setup(
    world: tuple[Engine, DhcpManager],
) -> None:
    engine, manager = world
    setup(engine, manager, {"v6": {"nic": "veth_0", "bridged": False, "ipv6autoconf": True}})

    def slaac() -> list[str]:
        return [a.address for a in engine.backend.observe().addresses_of("veth_0")
                if a.address.startswith("2001:db8:1:")]

    assert until(lambda: bool(slaac()), 30)
    engine.setup({"x": {"nic": "dummy_1", "bridged": False}}, {}, NO_CHECK)
    assert slaac()
    assert caps(engine)["networks"]["v6"]["ipv6autoconf"] is True


def _v6(engine: Engine, dev: str, prefix: str = "2001:db8:1:") -> list[str]:
    return [a.address for a in engine.backend.observe().addresses_of(dev)
            if a.address.startswith(prefix)]


def _leased6(addr: str) -> bool:
    """In dnsmasq's stateful range, as a /128."""
    return addr.startswith("2001:db8:1::1") and addr.endswith("/128")


@pytest.mark.parametrize("bridged", [True, False])
def test_dhcpv6_network_gets_its_lease_and_removal_releases_it(
    world: tuple[Engine, DhcpManager], bridged: bool
) -> None:
    engine, manager = world
    nets: dict[str, object] = {"d6": {"nic": "veth_0", "bridged": bridged, "dhcpv6": True}}
    assert setup(engine, manager, nets)
    top = "d6" if bridged else "veth_0"
    lease = manager.leases(6)[top]
    assert _leased6(lease["address"]) and lease["dns"] == ["2001:db8:1::53"]
    assert until(lambda: lease["address"] in _v6(engine, top))
    [held] = [a for a in engine.backend.observe().addresses_of(top)
              if a.address == lease["address"]]
    assert held.dynamic  # held with the lease's lifetimes, not as a static address
    net = caps(engine)["networks"]["d6"]
    assert net["dhcpv6"] is True and lease["address"] in net["ipv6addrs"]
    assert manager.poll() is True

    # another setup leaves the lease alone
    engine.setup({"x": {"nic": "dummy_1", "bridged": False}}, {}, NO_CHECK)
    assert lease["address"] in _v6(engine, top)

    pid = manager.clients(6)[top]
    engine.setup({"d6": {"remove": True}}, {}, NO_CHECK)
    manager.apply(engine.running)
    assert manager.clients(6) == {}
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert not [a for a in _v6(engine, "veth_0") if _leased6(a)]
    assert not manager.state_file(top, 6).exists()


def test_removing_an_autoconf_network_on_a_nic_removes_its_ra_route_and_addresses(
    world: tuple[Engine, DhcpManager],
) -> None:
    """The RA default route is proto ra: the removal must delete it (by any proto) and the
    link must stop taking RAs, so nothing comes back."""
    engine, manager = world
    setup(engine, manager, {"v6": {"nic": "veth_0", "bridged": False, "ipv6autoconf": True,
                                   "ipv6addr": "2001:db8:9::5/64"}})
    assert until(lambda: any(a.endswith("/64") for a in _v6(engine, "veth_0")), 30)
    assert until(lambda: any(r.is_default and r.family == 6 and r.oif == "veth_0"
                             for r in engine.backend.observe().routes), 30)

    # the static address goes when it is dropped from the (still autoconf) network
    engine.setup({"v6": {"nic": "veth_0", "bridged": False, "ipv6autoconf": True}}, {},
                 NO_CHECK)
    assert _v6(engine, "veth_0", "2001:db8:9:") == []
    assert _v6(engine, "veth_0")  # the SLAAC address stays

    engine.setup({"v6": {"remove": True}}, {}, NO_CHECK)
    manager.apply(engine.running)
    time.sleep(4)  # longer than the RA interval (3 s): an RA would have come back by now
    state = engine.backend.observe()
    assert _v6(engine, "veth_0") == []
    assert not [r for r in state.routes if r.oif == "veth_0" and r.family == 6]
