"""The planner leaves what a DHCP client or SLAAC configured alone, and only that."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import dynamic_families, render, source_tables
from vdsm_net.model.desired import Network, RunningConfig
from vdsm_net.model.kernel import (
    MAIN_TABLE,
    SOURCE_RULE_PRIORITY,
    Address,
    KernelState,
    Link,
    Route,
    Rule,
)
from vdsm_net.model.ops import AddAddress, DelAddress, DelRoute, DelRule, Op

NICS = {"eth0": Link("eth0", "nic", up=True), "eth1": Link("eth1", "nic", up=True)}


def converged(
    config: RunningConfig,
    extra_addr: Iterable[Address] = (),
    extra_routes: Iterable[Route] = (),
    extra_rules: Iterable[Rule] = (),
) -> KernelState:
    """The kernel after the config was applied, plus what a client added behind our back."""
    base = KernelState(links=dict(NICS))
    target = render(config, base)
    return KernelState(
        links=dict(target.links),
        addresses=target.addresses | frozenset(extra_addr),
        routes=target.routes | frozenset(extra_routes),
        rules=target.rules | frozenset(extra_rules),
    )


def plan(config: RunningConfig, observed: KernelState) -> list[Op]:
    return diff(render(config, observed), observed)


def deletions(ops: list[Op]) -> list[Op]:
    return [op for op in ops if isinstance(op, DelAddress | DelRoute | DelRule)]


DHCP_MGMT = Network("mgmt", nic="eth0", bootproto="dhcp", default_route=True)
DHCP_DATA = Network("data", nic="eth1", bridged=False, bootproto="dhcp")
LEASE_MGMT = Address("mgmt", "192.0.2.50/24")
LEASE_DATA = Address("eth1", "198.51.100.7/24")


def _data_table() -> int:
    return source_tables(RunningConfig(networks={"data": DHCP_DATA}))["data"]


def _data_lease_objects() -> tuple[set[Route], set[Rule]]:
    table = _data_table()
    routes = {
        Route("0.0.0.0/0", "eth1", "198.51.100.1", table),
        Route("198.51.100.0/24", "eth1", None, table, scope_link=True),
    }
    rules = {
        Rule(SOURCE_RULE_PRIORITY, table, src="198.51.100.0/24"),
        Rule(SOURCE_RULE_PRIORITY, table, dst="198.51.100.0/24"),
    }
    return routes, rules


def test_dynamic_families_name_top_device_and_family() -> None:
    v6 = Network("v6", nic="eth1", vlan=5, bridged=False, ipv6autoconf=True, ipaddr="10.0.0.1",
                 netmask="255.255.255.0")
    config = RunningConfig(networks={"mgmt": DHCP_MGMT, "v6": v6})
    assert dynamic_families(config) == {("mgmt", 4), ("eth1.5", 6)}
    assert render(config, KernelState(links=dict(NICS))).dynamic == {("mgmt", 4), ("eth1.5", 6)}


def test_a_non_default_dhcp_network_gets_a_source_table_the_default_one_does_not() -> None:
    config = RunningConfig(networks={"mgmt": DHCP_MGMT, "data": DHCP_DATA})
    tables = source_tables(config)
    assert set(tables) == {"data"}
    assert tables["data"] not in (0, 253, 254, 255)


def test_leased_address_and_default_route_are_kept() -> None:
    config = RunningConfig(networks={"mgmt": DHCP_MGMT})
    observed = converged(config, {LEASE_MGMT}, {Route("0.0.0.0/0", "mgmt", "192.0.2.1")})
    assert plan(config, observed) == []


def test_lease_routes_and_source_rules_of_a_non_default_network_are_kept() -> None:
    config = RunningConfig(networks={"data": DHCP_DATA})
    routes, rules = _data_lease_objects()
    observed = converged(config, {LEASE_DATA}, routes, rules)
    assert plan(config, observed) == []


def test_a_static_network_beside_a_dhcp_one_is_still_fully_managed() -> None:
    static = Network("st", nic="eth1", bridged=False, ipaddr="10.1.0.2", netmask="255.255.0.0")
    config = RunningConfig(networks={"mgmt": DHCP_MGMT, "st": static})
    stray = Address("eth1", "10.9.9.9/8")
    observed = converged(config, {LEASE_MGMT, stray})
    assert deletions(plan(config, observed)) == [DelAddress(stray)]


def test_switch_dhcp_to_static_removes_the_lease() -> None:
    config = RunningConfig(networks={"data": DHCP_DATA})
    routes, rules = _data_lease_objects()
    observed = converged(config, {LEASE_DATA}, routes, rules)
    static = replace(DHCP_DATA, bootproto="none", ipaddr="10.1.0.2", netmask="255.255.0.0")
    ops = plan(RunningConfig(networks={"data": static}), observed)
    assert DelAddress(LEASE_DATA) in ops
    assert {op.route for op in ops if isinstance(op, DelRoute)} == routes
    assert {op.rule for op in ops if isinstance(op, DelRule)} == rules
    assert AddAddress(Address("eth1", "10.1.0.2/16")) in ops


def test_removing_a_bridgeless_dhcp_network_on_a_nic_removes_its_lease() -> None:
    config = RunningConfig(networks={"data": DHCP_DATA})
    routes, rules = _data_lease_objects()
    observed = converged(config, {LEASE_DATA}, routes, rules)
    ops = plan(RunningConfig(), observed)
    assert DelAddress(LEASE_DATA) in ops
    assert {op.rule for op in ops if isinstance(op, DelRule)} == rules


def test_slaac_addresses_are_kept_and_static_ipv4_on_the_same_link_is_managed() -> None:
    net = Network("v6", nic="eth1", bridged=False, ipv6autoconf=True, ipaddr="10.0.0.1",
                  netmask="255.255.255.0")
    config = RunningConfig(networks={"v6": net})
    slaac = Address("eth1", "2001:db8::5054:ff:fe00:1/64", dynamic=True)
    ra_route = Route("::/0", "eth1", "fe80::1", MAIN_TABLE)
    stray4 = Address("eth1", "10.0.0.9/24")
    observed = converged(config, {slaac, stray4}, {ra_route})
    assert deletions(plan(config, observed)) == [DelAddress(stray4)]


def test_autoconf_turned_off_removes_the_autoconf_addresses() -> None:
    net = Network("v6", nic="eth1", bridged=False, ipv6autoconf=True)
    slaac = Address("eth1", "2001:db8::5054:ff:fe00:1/64")
    observed = converged(RunningConfig(networks={"v6": net}), {slaac})
    off = RunningConfig(networks={"v6": replace(net, ipv6autoconf=False)})
    assert deletions(plan(off, observed)) == [DelAddress(slaac)]
