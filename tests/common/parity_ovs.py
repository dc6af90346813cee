"""The OVS parity scenarios: ``switch: ovs`` networks through the same runner, on the simulated
kernel (unit tier) and on Open vSwitch in a namespace (kernel tier, ``test_kernel_ovs``)."""

from __future__ import annotations

from typing import Any

from tests.common.parity_scenarios import (
    RM,
    Expect,
    Scenario,
    Step,
    _clean,
    _link,
    _mtus,
    _source_routing,
    bond,
    net,
    v4,
)
from vdsm_net.model.errors import ERR_BAD_PARAMS
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ovs import ovs_bridge_name

OVS = {"switch": "ovs"}
BR0, BR2, BRB = (ovs_bridge_name(n) for n in ("dummy_0", "dummy_2", "bond0"))
OVS_BOND = {"bond0": bond(("dummy_0", "dummy_1"), "mode=1 miimon=100", **OVS)}


def _ports(bridge: str, *names: str) -> Expect:
    def holds(state: KernelState) -> bool:
        return sorted(n for n, lk in state.links.items() if lk.master == bridge) == sorted(names)

    return Expect(f"{bridge} has ports {names}", holds)


def _nets(**nets: dict[str, Any]) -> dict[str, Any]:
    return {name: {**attrs, **OVS} for name, attrs in nets.items()}


OVS_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ovs_vlans_mtu_and_addresses_on_a_nic", (
        Step(_nets(red=net(nic="dummy_2", vlan=10, mtu=9000, **v4("192.0.2.10", "192.0.2.1")),
                   blue=net(nic="dummy_2", bridged=False, ipv6addr="2001:db8::10/64")),
             expect=(_link(BR2, kind="ovs-bridge", mtu=9000, up=False),
                     _link("red", kind="ovs-port", master=BR2, vlan_id=10, mtu=9000),
                     _link("blue", kind="ovs-port", master=BR2, vlan_id=None, mtu=1500),
                     _ports(BR2, "blue", "dummy_2", "red"), _mtus(9000, "dummy_2"),
                     *_source_routing("red", "192.0.2.0/24", "192.0.2.1"))),
        Step(_nets(red=net(nic="dummy_2", vlan=11, **v4("192.0.2.10", "192.0.2.1"))),
             expect=(_link("red", vlan_id=11, mtu=1500), _mtus(1500, BR2, "dummy_2"))),
        Step({"red": RM, "blue": RM}, expect=(*_clean("dummy_2"), _link("dummy_2", up=True))),
    )),
    Scenario("ovs_on_a_bond_and_the_bond_leaves", (
        Step(_nets(green=net(bonding="bond0", vlan=20, mtu=4000, **v4("198.51.100.7"))),
             OVS_BOND,
             expect=(_link("bond0", master=BRB, mtu=4000), _link("green", master=BRB, mtu=4000),
                     _mtus(4000, BRB, "dummy_0", "dummy_1"))),
        Step({"green": RM}, {"bond0": RM}, expect=_clean("dummy_0", "dummy_1")),
    )),
    Scenario("legacy_to_ovs_and_back_on_one_nic", (
        Step({"red": net(nic="dummy_0", vlan=5, **v4("192.0.2.10"))},
             expect=(_link("red", kind="bridge"), _link("dummy_0.5", master="red"))),
        Step({"blue": {**net(nic="dummy_0", vlan=6), **OVS}}, error=ERR_BAD_PARAMS),
        Step(_nets(red=net(nic="dummy_0", vlan=5, **v4("192.0.2.10"))),
             expect=(_link("red", kind="ovs-port", master=BR0, vlan_id=5),
                     Expect("no VLAN device left", lambda s: "dummy_0.5" not in s.links))),
        Step({"red": net(nic="dummy_0", **v4("192.0.2.10"))},
             expect=(_link("red", kind="bridge"), _link("dummy_0", master="red"),
                     Expect("the OVS bridge is gone", lambda s: BR0 not in s.links))),
        Step({"red": RM}, expect=_clean("dummy_0")),
    )),
)


def ovs_params() -> list[Any]:
    import pytest

    return [pytest.param(s, id=s.name) for s in OVS_SCENARIOS]
