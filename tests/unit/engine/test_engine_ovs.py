"""OVS networks (``switch: ovs``) on the simulated kernel: what lands, caps, restart adoption,
drift, rollback at every write, and the rules of one bridge per southbound device."""

from __future__ import annotations

from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_BRIDGE, ERR_BAD_PARAMS, KernelError, NetworkError
from vdsm_net.model.ops import SetTag
from vdsm_net.model.ovs import ovs_bridge_name
from vdsm_net.verbs import schema
from vdsm_net.verbs.caps import network_caps

NOCHK = {"connectivityCheck": "false"}
NICS = ["eth0", "eth1", "eth2", "eth3"]
BR0, BRB = ovs_bridge_name("eth0"), ovs_bridge_name("bond0")

OVS_NETS: dict[str, Any] = {
    "red": {"nic": "eth0", "vlan": "10", "mtu": 9000, "switch": "ovs", "ipaddr": "192.0.2.5",
            "prefix": "24", "gateway": "192.0.2.1"},
    "blue": {"nic": "eth0", "bridged": "false", "switch": "ovs", "ipv6addr": "2001:db8::5/64"},
    "green": {"bonding": "bond0", "vlan": 20, "switch": "ovs", "mtu": 4000},
}
OVS_BONDS: dict[str, Any] = {"bond0": {"nics": ["eth2", "eth1"], "switch": "ovs",
                                       "options": "mode=active-backup miimon=100"}}


def fresh() -> tuple[Engine, MemoryKernel]:
    kernel = MemoryKernel(nics=NICS)
    return Engine(kernel), kernel


def caps(engine: Engine, kernel: MemoryKernel) -> Any:  # the caps are read as plain JSON here
    return network_caps(kernel.observe(), engine.running, kernel.nic_facts, [], False)


def test_ovs_networks_land_as_bridges_ports_and_tags() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    links = kernel.observe().links
    assert BR0.startswith("vdsmbr_") and len(BR0) == 15 and BR0 != BRB
    assert links[BR0].kind == "ovs-bridge" and links[BR0].mtu == 9000
    assert links[BRB].mtu == 4000
    assert links["eth0"].master == BR0 and links["bond0"].master == BRB
    assert links["eth0"].mtu == 9000 and links["bond0"].mtu == 4000
    red, blue, green = links["red"], links["blue"], links["green"]
    assert (red.kind, red.master, red.vlan_id, red.mtu) == ("ovs-port", BR0, 10, 9000)
    assert (blue.master, blue.vlan_id, blue.mtu) == (BR0, None, 1500)
    assert (green.master, green.vlan_id) == (BRB, 20)
    assert red.mac == blue.mac == links["eth0"].mac
    assert green.mac == links["bond0"].mac
    state = kernel.observe()
    assert [a.address for a in state.addresses_of("red")] == ["192.0.2.5/24"]
    assert [a.address for a in state.addresses_of("blue")] == ["2001:db8::5/64"]
    assert state.addresses_of("eth0") == [] and state.addresses_of(BR0) == []
    assert not any(lk.kind == "vlan" for lk in links.values())
    assert engine.plan(OVS_NETS, OVS_BONDS, NOCHK) == []


def test_caps_show_vdsms_legacy_shaped_topology() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    out = caps(engine, kernel)
    schema.check(out, schema.NETWORK_CAPS)
    red, blue = out["networks"]["red"], out["networks"]["blue"]
    assert red["switch"] == "ovs" and red["bridged"] is True and red["iface"] == "red"
    assert red["southbound"] == "eth0.10" and red["ports"] == ["eth0.10"] and red["vlanid"] == 10
    assert red["addr"] == "192.0.2.5" and red["mtu"] == "9000"
    assert blue["bridged"] is False and blue["iface"] == blue["southbound"] == "eth0"
    assert out["bridges"]["red"]["ports"] == ["eth0.10"] and "blue" not in out["bridges"]
    assert out["bridges"]["green"]["ports"] == ["bond0.20"]
    assert out["vlans"]["eth0.10"]["iface"] == "eth0" and out["vlans"]["eth0.10"]["vlanid"] == 10
    assert out["vlans"]["eth0.10"]["addr"] == "" and out["vlans"]["bond0.20"]["mtu"] == "4000"
    assert out["bondings"]["bond0"]["switch"] == "ovs"
    assert BR0 not in out["bridges"] and "red" not in out["nics"]


def test_the_bridge_goes_with_its_last_network_and_its_mtu_follows() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    engine.setup({"red": {"remove": True}}, {}, NOCHK)
    links = kernel.observe().links
    assert "red" not in links and links[BR0].mtu == 1500 and links["eth0"].mtu == 1500
    engine.setup({"blue": {"remove": True}, "green": {"remove": True}},
                 {"bond0": {"remove": True}}, NOCHK)
    state = kernel.observe()
    assert set(state.links) == set(NICS)
    assert all(lk.master is None and lk.tag is None for lk in state.links.values())


def test_a_tag_or_device_change_recreates_the_port_with_its_addresses() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    moved = {**OVS_NETS["red"], "vlan": "11", "nic": "eth3"}
    engine.setup({"red": moved}, {}, NOCHK)
    state = kernel.observe()
    red = state.links["red"]
    assert (red.master, red.vlan_id) == (ovs_bridge_name("eth3"), 11)
    assert red.mac == state.links["eth3"].mac
    assert [a.address for a in state.addresses_of("red")] == ["192.0.2.5/24"]
    assert state.links[BR0].mtu == 1500  # blue is left alone on eth0's bridge
    assert compare(engine.running, state) == []


def test_restarted_engine_adopts_ovs_networks_and_plans_nothing() -> None:
    first, kernel = fresh()
    first.setup(OVS_NETS, OVS_BONDS, NOCHK)
    second = Engine(kernel, running=adopt(kernel.observe()))
    assert second.running.networks["blue"].bridged is False
    assert second.running.networks["green"].bonding == "bond0"
    assert {n.switch for n in second.running.networks.values()} == {"ovs"}
    assert second.running.bonds["bond0"].switch == "ovs"
    writes = kernel.writes
    assert second.plan(OVS_NETS, OVS_BONDS, NOCHK) == []
    second.setup(OVS_NETS, OVS_BONDS, NOCHK)
    assert kernel.writes == writes
    assert caps(second, kernel) == caps(first, kernel)


def test_drift_on_ovs_objects_is_seen_and_repaired() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    kernel.apply(SetTag("red", None))
    kernel.apply(SetTag(BRB, "vdsm-net:ovsbr=other"))
    drift = compare(engine.running, kernel.observe())
    assert "red.tag: desired vdsm-net:net=red, kernel none" in drift
    assert any(line.startswith(f"{BRB}.tag") for line in drift)
    engine.reconcile()
    assert compare(engine.running, kernel.observe()) == []


def test_fault_at_every_write_leaves_the_kernel_as_it_was() -> None:
    engine, kernel = fresh()
    engine.setup({"old": {"nic": "eth3", "switch": "ovs", "vlan": 3}}, {}, NOCHK)
    start = kernel.writes
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    total = kernel.writes - start
    assert total > 20
    for k in range(total):
        engine, kernel = fresh()
        engine.setup({"old": {"nic": "eth3", "switch": "ovs", "vlan": 3}}, {}, NOCHK)
        before, running = kernel.observe(), engine.running
        kernel.fail_at = k
        with pytest.raises(KernelError):
            engine.setup({**OVS_NETS, "old": {"remove": True}}, OVS_BONDS, NOCHK)
        kernel.fail_at = None
        assert kernel.observe() == before, f"a fault at write {k} left the kernel changed"
        assert engine.running == running


def test_legacy_and_ovs_on_one_device_is_refused_and_nothing_changes() -> None:
    engine, kernel = fresh()
    engine.setup({"legacy": {"nic": "eth0"}}, {}, NOCHK)
    before = kernel.observe()
    with pytest.raises(NetworkError) as info:
        engine.setup({"o": {"nic": "eth0", "vlan": "5", "switch": "ovs"}}, {}, NOCHK)
    assert info.value.code == ERR_BAD_PARAMS
    assert kernel.observe() == before


def test_a_vm_port_on_the_ovs_bridge_keeps_it() -> None:
    engine, kernel = fresh()
    engine.setup({"red": OVS_NETS["red"]}, {}, NOCHK)
    kernel.add_foreign_link("vnet0", master=BR0)
    with pytest.raises(NetworkError) as info:
        engine.setup({"red": {"remove": True}}, {}, NOCHK)
    assert info.value.code == ERR_BAD_BRIDGE and "vnet0" in info.value.message


def test_a_legacy_network_can_follow_an_ovs_one_on_the_same_nic() -> None:
    engine, kernel = fresh()
    engine.setup({"red": OVS_NETS["red"]}, {}, NOCHK)
    engine.setup({"red": {"nic": "eth0", "vlan": "10", "mtu": 9000}}, {}, NOCHK)
    links = kernel.observe().links
    assert links["red"].kind == "bridge" and links["eth0.10"].master == "red"
    assert BR0 not in links and links["eth0"].master is None


def test_full_state_keeps_ovs_networks_whose_bridge_a_vm_uses() -> None:
    engine, kernel = fresh()
    engine.setup(OVS_NETS, OVS_BONDS, NOCHK)
    kernel.add_foreign_link("vnet0", master=BRB)
    keep = {"red": OVS_NETS["red"], "blue": OVS_NETS["blue"]}
    result = engine.setup(keep, {}, {**NOCHK, "fullState": True})
    assert result.kept_in_use == {"green": ["vnet0"]}
    assert set(engine.running.networks) == {"red", "blue", "green"}
    assert "bond0" in engine.running.bonds
    links = kernel.observe().links
    assert links["green"].master == BRB and links["vnet0"].master == BRB
    result = engine.setup({"red": OVS_NETS["red"]}, {}, {**NOCHK, "fullState": True})
    assert result.kept_in_use == {"green": ["vnet0"]}  # blue's bridge has no VM: it goes
    assert "blue" not in kernel.observe().links and BR0 in kernel.observe().links
