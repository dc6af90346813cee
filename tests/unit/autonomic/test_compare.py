"""Caps against the rendered policy: what differs, what VMs keep, which required link is down.
The caps come from the agent's own report on the simulated kernel."""

from __future__ import annotations

from typing import Any

from autonomic.compare import differences, required_down
from autonomic.render import Rendered
from tests.unit.autonomic.fakes import MGMT_ATTRS, make_host

NETS: dict[str, dict[str, Any]] = {
    "ovirtmgmt": MGMT_ATTRS,
    "vmnet": {"bonding": "bond0", "vlan": "100", "ipaddr": "10.0.0.2",
              "netmask": "255.255.255.0"},
    "v6": {"nic": "eth3", "bridged": "false", "ipv6addr": "fd00:0::2/64", "mtu": 1500},
}
BONDS = {"bond0": {"nics": ["eth2", "eth1"], "options": "mode=active-backup miimon=100"}}


def _applied() -> tuple[Any, Rendered]:
    host = make_host()
    host.api.setup_networks(NETS, BONDS, {"connectivityCheck": False})
    return host, Rendered(NETS, BONDS, frozenset({"vmnet"}))


def test_the_same_picture_in_other_spellings_is_no_difference() -> None:
    host, rendered = _applied()
    assert differences(rendered, host.api.get_network_capabilities()) == ([], [])


def test_each_kind_of_difference_is_named() -> None:
    host, _ = _applied()
    changed = Rendered({**NETS, "vmnet": {**NETS["vmnet"], "ipaddr": "10.0.0.3", "mtu": 1400},
                        "new": {"nic": "eth9"}},
                       {"bond0": {"nics": ["eth1"], "options": "mode=1"}})
    diff, _ = differences(changed, host.api.get_network_capabilities())
    assert "new: missing" in diff
    assert any(d.startswith("vmnet: mtu") for d in diff)
    assert any(d.startswith("vmnet: ipv4") for d in diff)
    assert any(d.startswith("bond bond0: ports") for d in diff)
    less = Rendered({"ovirtmgmt": MGMT_ATTRS}, {})
    diff, _ = differences(less, host.api.get_network_capabilities())
    assert "vmnet: not in the policy" in diff and "v6: not in the policy" in diff


def test_a_bridge_with_a_foreign_port_is_in_use_not_a_difference() -> None:
    host, _ = _applied()
    host.api.setup_networks({"vmbr": {"nic": "eth3", "vlan": 5}}, {},
                            {"connectivityCheck": False})
    host.kernel.add_foreign_link("vnet0", master="vmbr")
    rendered = Rendered({**NETS}, BONDS)
    diff, in_use = differences(rendered, host.api.get_network_capabilities())
    assert (diff, in_use) == ([], ["vmbr"])


def test_a_drift_report_is_a_difference() -> None:
    caps = {"networks": {}, "driftReport": {"drift": ["net1.mtu: desired 9000, kernel 1500"]}}
    diff, _ = differences(Rendered({}, {}), caps)
    assert diff == ["drift: net1.mtu: desired 9000, kernel 1500"]


def test_a_required_network_is_down_when_its_nic_or_bond_is() -> None:
    host, rendered = _applied()
    caps = host.api.get_network_capabilities()
    stats = host.api.get_network_statistics()
    assert required_down(rendered, caps, stats) == []
    stats["network"]["bond0"]["state"] = "down"
    assert required_down(rendered, caps, stats) == ["vmnet (bond0 down)"]
    assert required_down(rendered, {"networks": {}}, stats) == []  # not built yet
