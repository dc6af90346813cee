"""The caps index answers exactly what the plain scans of a kernel state answer.

``network_caps`` builds one ``CapsIndex`` per call instead of scanning every address, link and
route for each entry. The reference here is the straightforward scan (``KernelState.addresses_of``,
``KernelState.ports_of``, the default routes sorted main table first); the whole report built on
it must equal the report built on the index, on hand-made states and on generated ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.engine.engine_helpers import converge
from tests.unit.engine.strategies import nic_sets, running_configs, seed_foreign
from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.model.desired import Network, RunningConfig
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import MAIN_TABLE, Address, KernelState, Link, Route
from vdsm_net.verbs import caps
from vdsm_net.verbs.caps import CapsIndex, network_caps
from vdsm_net.verbs.stats import facts_once, network_statistics


class ScanIndex:
    """The reference: every question is a scan of the whole state."""

    def __init__(self, state: KernelState) -> None:
        self.state = state

    def addresses(self, ifname: str) -> list[Address]:
        return self.state.addresses_of(ifname)

    def ports(self, master: str) -> list[str]:
        return self.state.ports_of(master)

    def gateway(self, ifname: str, family: int) -> tuple[str, bool]:
        ordered = sorted(self.state.routes, key=lambda r: (r.table != MAIN_TABLE, r.table, r))
        for route in ordered:
            mine = route.oif == ifname and route.is_default and route.family == family
            if mine and route.gateway:
                return route.gateway, route.table == MAIN_TABLE
        return "", False


def no_facts(name: str) -> NicFacts:
    raise KernelError("nic_facts", f"no facts for {name}")


def both_reports(state: KernelState, running: RunningConfig) -> tuple[Any, Any]:
    indexed = network_caps(state, running, no_facts, [], False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(caps, "CapsIndex", ScanIndex)
        scanned = network_caps(state, running, no_facts, [], False)
    return indexed, scanned


def hand_made() -> tuple[KernelState, RunningConfig]:
    links = {
        "tap1": Link("tap1", "other", master="mgmt"),  # unsorted: the ports must come sorted
        "eth1": Link("eth1", "nic", master="bond0"),
        "eth0": Link("eth0", "nic", master="bond0"),
        "eth2": Link("eth2", "nic"),
        "bond0": Link("bond0", "bond", master="mgmt", bond_options=(("mode", "1"),)),
        "bond0.7": Link("bond0.7", "vlan", vlan_id=7, vlan_base="bond0"),
        "mgmt": Link("mgmt", "bridge"),
    }
    addresses = frozenset({
        Address("mgmt", "10.0.0.5/24"), Address("mgmt", "10.1.0.5/16"),
        Address("mgmt", "fd00::5/64"), Address("mgmt", "fd00:1::5/64"),
        Address("bond0.7", "192.0.2.9/24"), Address("eth2", "198.51.100.2/24"),
    })
    routes = frozenset({
        Route("0.0.0.0/0", "mgmt", "10.1.0.1", table=100),  # a source table...
        Route("0.0.0.0/0", "mgmt", "10.0.0.1"),  # ...and the main table's, which wins
        Route("::/0", "mgmt", "fd00::1", table=100),  # only a source table: not the default
        Route("0.0.0.0/0", "bond0.7", "192.0.2.1", table=300),
        Route("0.0.0.0/0", "bond0.7", "192.0.2.254", table=200),  # the lower table wins
        Route("0.0.0.0/0", "eth2", None, scope_link=True),  # no gateway: not reported
        Route("10.9.0.0/16", "eth2", "198.51.100.1"),  # not a default route
    })
    running = RunningConfig(networks={
        "mgmt": Network("mgmt", bonding="bond0", bridged=True),
        "data": Network("data", bonding="bond0", vlan=7, bridged=False),
        "gone": Network("gone", nic="eth9", bridged=False),  # its device is missing
    })
    return KernelState(links=links, addresses=addresses, routes=routes), running


def test_index_answers_on_a_hand_made_state() -> None:
    state, _ = hand_made()
    index = CapsIndex(state)
    assert index.gateway("mgmt", 4) == ("10.0.0.1", True)
    assert index.gateway("mgmt", 6) == ("fd00::1", False)
    assert index.gateway("bond0.7", 4) == ("192.0.2.254", False)
    assert index.gateway("eth2", 4) == ("", False)
    assert index.gateway("nothere", 4) == ("", False)
    assert index.ports("mgmt") == ["bond0", "tap1"]
    assert index.ports("bond0") == ["eth0", "eth1"]
    assert index.ports("eth2") == []
    assert [a.address for a in index.addresses("mgmt")] == [
        "10.0.0.5/24", "10.1.0.5/16", "fd00:1::5/64", "fd00::5/64"]


def test_index_lists_are_the_callers_own() -> None:
    state, _ = hand_made()
    index = CapsIndex(state)
    index.ports("mgmt").append("x")
    index.addresses("mgmt").clear()
    assert index.ports("mgmt") == ["bond0", "tap1"]
    assert len(index.addresses("mgmt")) == 4


def test_hand_made_report_equals_the_scanned_one() -> None:
    state, running = hand_made()
    indexed, scanned = both_reports(state, running)
    assert indexed == scanned
    mgmt = indexed["networks"]["mgmt"]
    assert (mgmt["gateway"], mgmt["addr"], mgmt["ipv4defaultroute"]) == ("10.0.0.1", "10.0.0.5",
                                                                         True)
    assert mgmt["ipv6gateway"] == "fd00::1" and mgmt["ports"] == ["bond0", "tap1"]
    assert indexed["bondings"]["bond0"]["slaves"] == ["eth0", "eth1"]
    assert indexed["networks"]["data"]["gateway"] == "192.0.2.254"
    assert "gone" not in indexed["networks"]


default_routes = st.lists(
    st.tuples(st.sampled_from((MAIN_TABLE, 100, 1000)), st.integers(1, 3), st.booleans()),
    max_size=5,
)


@given(st.data())
def test_generated_report_equals_the_scanned_one(data: st.DataObject) -> None:
    nics = data.draw(nic_sets())
    config: RunningConfig = data.draw(running_configs(nics))
    kernel = MemoryKernel(nics=nics)
    converge(kernel, config)
    seed_foreign(kernel)
    names = sorted(kernel.observe().links)
    oifs = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
    for table, host, v6 in data.draw(default_routes):  # extra default routes, any table
        oif = data.draw(st.sampled_from(oifs))
        route = (Route("::/0", oif, f"fd09::{host}", table=table) if v6
                 else Route("0.0.0.0/0", oif, f"10.99.0.{host}", table=table))
        kernel.add_route(route)
    indexed, scanned = both_reports(kernel.observe(), config)
    assert indexed == scanned


def test_statistics_read_a_vlan_base_once() -> None:
    kernel = MemoryKernel(nics=["eth0"])
    kernel.add_foreign_link("bond0", kind="bond")
    for vid in range(5):
        kernel.add_foreign_link(f"bond0.{vid}", kind="vlan")
    state = kernel.observe()
    links = dict(state.links)
    for vid in range(5):
        links[f"bond0.{vid}"] = links[f"bond0.{vid}"].with_(vlan_base="bond0")
    asked: list[str] = []

    def facts(name: str) -> NicFacts:
        asked.append(name)
        if name == "bond0":
            return NicFacts(speed=2000, duplex="full")
        raise KernelError("nic_facts", f"no NIC {name}")

    report = network_statistics(KernelState(links=links), facts, now=lambda: 1.0)
    assert sorted(asked) == ["bond0", "eth0"]
    assert {report["network"][f"bond0.{v}"]["speed"] for v in range(5)} == {"2000"}
    assert report["network"]["eth0"]["speed"] == "1000"  # unknown: vdsm's default


def test_facts_once_keeps_a_failure_as_unknown() -> None:
    calls: list[str] = []

    def facts(name: str) -> NicFacts:
        calls.append(name)
        raise OSError("gone")

    once = facts_once(facts)
    assert once("eth0") == NicFacts() and once("eth0") == NicFacts()
    assert calls == ["eth0"]
