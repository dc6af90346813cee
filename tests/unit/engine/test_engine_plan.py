"""diff(): ordering, recreate reasons, ownership, in-use errors."""

from __future__ import annotations

import pytest

from tests.unit.engine.engine_helpers import apply_all, converge
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.plan.planner import diff, explain, in_use_bridges, touched, verify
from vdsm_net.engine.render import render
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.errors import ERR_BAD_BRIDGE, ERR_USED_BOND, NetworkError
from vdsm_net.model.kernel import Address, Link, Route
from vdsm_net.model.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    CreateLink,
    DeleteLinks,
    Op,
    SetBondOptions,
    SetMac,
    SetMaster,
    SetMtu,
    SetUp,
)


def cfg(*nets: Network, bonds: tuple[Bond, ...] = ()) -> RunningConfig:
    return RunningConfig(networks={n.name: n for n in nets}, bonds={b.name: b for b in bonds})


def plan_for(kernel: MemoryKernel, config: RunningConfig) -> list[Op]:
    observed = kernel.observe()
    return diff(render(config, observed), observed)


def index(plan: list[Op], pred: type[Op], **fields: object) -> int:
    for i, op in enumerate(plan):
        if isinstance(op, pred) and all(getattr(op, k) == v for k, v in fields.items()):
            return i
    raise AssertionError(f"no {pred.__name__} {fields} in\n{explain(plan)}")


def created(plan: list[Op], name: str) -> int:
    return next(
        i for i, op in enumerate(plan) if isinstance(op, CreateLink) and op.links == (name,)
    )


FULL = cfg(
    Network("red", bonding="bond0", vlan=10, mtu=9000, ipaddr="10.0.0.5",
            netmask="255.255.255.0", gateway="10.0.0.1", default_route=True),
    bonds=(Bond("bond0", ("eth0", "eth1"), (("mode", "4"),)),),
)


def test_creation_order_is_lower_first_with_default_route_last() -> None:
    plan = plan_for(MemoryKernel(["eth0", "eth1"]), FULL)
    bond = index(plan, CreateLink)
    assert plan[bond].links == ("bond0",)
    enslave = index(plan, SetMaster, name="eth0", master="bond0")
    vlan = created(plan, "bond0.10")
    bridge = created(plan, "red")
    port = index(plan, SetMaster, name="bond0.10", master="red")
    up = index(plan, SetUp, name="red")
    addr = index(plan, AddAddress)
    assert bond < enslave < vlan < bridge < port < up < addr
    assert not any(isinstance(op, SetMtu) for op in plan)  # created with it, ports inherit
    assert isinstance(plan[-1], AddRoute) and plan[-1].route.table == 254
    assert isinstance(plan[-2], AddRule)


def test_plan_is_deterministic_and_identical_state_gives_empty_plan() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    assert plan_for(k, FULL) == plan_for(k.clone(), FULL)
    apply_all(k, plan_for(k, FULL))
    writes = k.writes
    assert plan_for(k, FULL) == []
    assert verify(render(FULL, k.observe()), k.observe()) == []
    assert k.writes == writes


def test_removal_is_upper_first_in_bulk_and_nics_are_reset_not_deleted() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    converge(k, FULL)
    plan = plan_for(k, cfg())
    deletes = [op for op in plan if isinstance(op, DeleteLinks)]
    assert [op.names for op in deletes] == [("red",), ("bond0.10",), ("bond0",)]
    assert all("eth" not in n for op in deletes for n in op.names)
    apply_all(k, plan)
    state = k.observe()
    assert set(state.links) == {"eth0", "eth1"}
    for nic in state.links.values():
        assert (nic.master, nic.mtu, nic.tag, nic.up) == (None, 1500, None, True)
    assert not state.addresses and not state.routes and not state.rules


def test_recreate_reason_for_vlan_id_and_base_change() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    tag = "vdsm-net:net=red"
    k.apply(CreateLink(Link("eth0.10", "vlan", tag=tag, vlan_id=20, vlan_base="eth0")))
    k.apply(CreateLink(Link("eth1.10", "vlan", tag=tag, vlan_id=10, vlan_base="eth0")))
    config = cfg(Network("red", nic="eth0", vlan=10), Network("blue", nic="eth1", vlan=10))
    plan = plan_for(k, config)
    reasons = {op.links: op.to_dict().get("reason") for op in plan if isinstance(op, DeleteLinks)}
    assert reasons == {
        ("eth0.10",): "recreate: vlan id 20 -> 10",
        ("eth1.10",): "recreate: vlan base eth0 -> eth1",
    }
    assert created(plan, "eth0.10") > plan.index(DeleteLinks(("eth0.10",), reason=reasons[
        ("eth0.10",)]))
    apply_all(k, plan)
    assert k.observe().links["eth0.10"].vlan_id == 10
    assert k.observe().links["eth1.10"].vlan_base == "eth1"


def test_recreate_reason_for_kind_change() -> None:
    k = MemoryKernel(["eth0"])
    k.apply(CreateLink(Link("red", "bond", tag="vdsm-net:bond=red", bond_options=(("mode", "0"),))))
    plan = plan_for(k, cfg(Network("red", nic="eth0")))
    assert any(op.to_dict().get("reason") == "recreate: kind bond -> bridge" for op in plan)
    apply_all(k, plan)
    assert k.observe().links["red"].kind == "bridge"


def test_bond_mode_change_releases_bounces_and_reenslaves() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    converge(k, FULL)
    new = cfg(*FULL.networks.values(), bonds=(Bond("bond0", ("eth0", "eth1"), (("mode", "1"),)),))
    plan = plan_for(k, new)
    release = index(plan, SetMaster, name="eth0", master=None)
    down = index(plan, SetUp, name="bond0", up=False)
    options = index(plan, SetBondOptions, name="bond0")
    enslave = index(plan, SetMaster, name="eth0", master="bond0")
    assert release < down < options < enslave
    assert "mode change 4 -> 1" in explain(plan)
    assert not any(isinstance(op, DeleteLinks | CreateLink) for op in plan)
    apply_all(k, plan)
    assert plan_for(k, new) == []


def test_other_bond_option_change_is_in_place() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    converge(k, FULL)
    opts = (("mode", "4"), ("miimon", "100"))
    plan = plan_for(k, cfg(*FULL.networks.values(), bonds=(Bond("bond0", ("eth0", "eth1"), opts),)))
    assert plan == [SetBondOptions("bond0", opts)]


def test_foreign_links_and_their_ip_are_never_touched() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    k.add_foreign_link("virbr0", kind="bridge")
    k.add_foreign_link("vnet0", master="virbr0")
    k.add_address(Address("virbr0", "192.168.122.1/24"))
    k.add_route(Route("192.168.200.0/24", "virbr0", "192.168.122.7"))
    k.add_address(Address("eth1", "198.51.100.2/24"))  # an unused NIC is foreign too
    plan = plan_for(k, FULL.__class__(networks={"red": Network("red", nic="eth0")}))
    assert not {"virbr0", "vnet0", "eth1"} & touched(plan, k.observe())
    before = k.observe()
    apply_all(k, plan)
    after = k.observe()
    for name in ("virbr0", "vnet0", "eth1"):
        assert after.links[name] == before.links[name]
    assert {a for a in after.addresses if a.ifname != "red"} == before.addresses
    assert after.routes == before.routes


def test_nic_joining_a_network_loses_its_old_address() -> None:
    k = MemoryKernel(["eth0"])
    k.add_address(Address("eth0", "198.51.100.2/24"))
    converge(k, cfg(Network("red", nic="eth0")))
    assert k.observe().addresses == frozenset()


def test_bridge_in_use_by_a_tap_cannot_be_deleted_and_nothing_changes() -> None:
    k = MemoryKernel(["eth0"])
    converge(k, cfg(Network("red", nic="eth0")))
    k.add_foreign_link("tap0", master="red")
    before = k.observe()
    assert in_use_bridges(before, ["red", "eth0", "nope"]) == {"red": ["tap0"]}
    with pytest.raises(NetworkError) as err:
        plan_for(k, cfg())
    assert err.value.code == ERR_BAD_BRIDGE
    assert err.value.message == "Cannot delete network red: bridge in use by tap0"
    with pytest.raises(NetworkError):  # toggling bridged would delete the bridge too
        plan_for(k, cfg(Network("red", nic="eth0", bridged=False)))
    assert k.observe() == before and k.writes == 5
    assert plan_for(k, cfg(Network("red", nic="eth0", mtu=1600)))  # editing in place is fine


def test_bond_with_a_foreign_port_cannot_be_deleted() -> None:
    k = MemoryKernel(["eth0"])
    converge(k, cfg(bonds=(Bond("bond0", ("eth0",)),)))
    k.add_foreign_link("eth9", master="bond0")
    with pytest.raises(NetworkError) as err:
        plan_for(k, cfg())
    assert err.value.code == ERR_USED_BOND and "eth9" in err.value.message


def test_revert_scope_limits_the_plan_and_never_raises() -> None:
    k = MemoryKernel(["eth0", "eth1"])
    converge(k, cfg(Network("red", nic="eth0"), Network("blue", nic="eth1")))
    pre = k.observe()
    k.add_foreign_link("tap0", master="red")
    apply_all(k, [SetMaster("eth0", None), SetMaster("eth1", None)])
    revert = diff(pre.__class__(links={}), k.observe(), scope=frozenset({"red"}))
    assert revert == [DeleteLinks(("red",))]  # in use by tap0, yet a revert does not raise
    back = diff(pre, k.observe(), scope=frozenset({"eth0"}))
    assert back == [SetMaster("eth0", "red")]


def test_mac_is_planned_only_when_forced() -> None:
    k = MemoryKernel(["eth0"])
    converge(k, cfg(bonds=(Bond("bond0", ("eth0",), hwaddr="02:00:00:00:00:01"),)))
    assert k.observe().links["bond0"].mac == "02:00:00:00:00:01"
    plan = plan_for(k, cfg(bonds=(Bond("bond0", ("eth0",), hwaddr="02:00:00:00:00:02"),)))
    assert plan == [SetMac("bond0", "02:00:00:00:00:02")]
    assert plan_for(k, cfg(bonds=(Bond("bond0", ("eth0",)),))) == []  # unforced: left as is


def test_explain_is_one_line_per_op() -> None:
    plan = plan_for(MemoryKernel(["eth0", "eth1"]), FULL)
    lines = explain(plan).splitlines()
    assert len(lines) == len(plan) and lines[0].startswith("create_link ")
