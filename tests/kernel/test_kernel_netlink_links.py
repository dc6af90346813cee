"""The netlink backend against the real kernel: link ops and what observe() makes of them."""

from __future__ import annotations

import pytest

from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import Link


def test_observe_sees_the_nics(backend: NetlinkBackend) -> None:
    state = backend.observe()
    assert set(state.links) == {"dummy_0", "dummy_1", "dummy_2", "veth_0", "veth_0p"}
    d0 = state.links["dummy_0"]
    assert d0.kind == "nic" and d0.mtu == 1500 and not d0.up and d0.master is None
    assert d0.tag is None and d0.mac and d0.index > 0


def test_bond_mode1_created_with_options_and_ports(backend: NetlinkBackend) -> None:
    bond = Link(
        "bond0",
        "bond",
        mtu=1500,
        tag="vdsm-net:bond=bond0",
        bond_options=(("mode", "1"), ("miimon", "150")),
    )
    backend.apply(o.CreateLink(bond))
    backend.apply(o.SetUp("dummy_0", up=True))  # an UP port: the backend downs it to enslave
    backend.apply(o.SetMaster("dummy_0", master="bond0"))
    backend.apply(o.SetMaster("dummy_1", master="bond0"))
    backend.apply(o.SetUp("bond0", up=True))
    state = backend.observe()
    got = state.links["bond0"]
    assert got.with_(mac=None) == bond.with_(up=True)  # MAC is random unless forced
    assert state.ports_of("bond0") == ["dummy_0", "dummy_1"]
    assert state.links["dummy_0"].perm_mac is not None
    assert got.active_slave in ("dummy_0", "dummy_1")


def test_bond_mode4_then_mode_change(backend: NetlinkBackend) -> None:
    opts = (("mode", "4"), ("lacp_rate", "1"), ("xmit_hash_policy", "2"))
    backend.apply(o.CreateLink(Link("bond1", "bond", bond_options=opts)))
    assert backend.observe().links["bond1"].bond_options == opts
    backend.apply(o.SetBondOptions("bond1", options=(("mode", "1"), ("miimon", "100"))))
    assert backend.observe().links["bond1"].bond_options == (("mode", "1"), ("miimon", "100"))
    backend.apply(o.SetBondOptions("bond1", options=(("mode", "0"),)))
    assert backend.observe().links["bond1"].bond_options == (("mode", "0"),)


def test_bond_mode_change_with_ports_is_a_kernel_error(backend: NetlinkBackend) -> None:
    backend.apply(o.CreateLink(Link("bond2", "bond", bond_options=(("mode", "1"),))))
    backend.apply(o.SetMaster("dummy_2", master="bond2"))
    with pytest.raises(KernelError) as err:
        backend.apply(o.SetBondOptions("bond2", options=(("mode", "4"),)))
    assert err.value.op == "set_bond_options"
    assert "bond2" in str(err.value)
    assert backend.observe().links["bond2"].bond_options == (("mode", "1"),)


def test_vlan_on_bond_and_on_nic(backend: NetlinkBackend) -> None:
    backend.apply(o.CreateLink(Link("bond0", "bond", bond_options=(("mode", "4"),))))
    for base in ("bond0", "dummy_0"):
        vlan = Link(f"{base}.100", "vlan", vlan_id=100, vlan_base=base, tag="vdsm-net:net=x")
        backend.apply(o.CreateLink(vlan))
        assert backend.observe().links[vlan.name].with_(mac=None) == vlan


def test_vlan_mtu_over_base_fails(backend: NetlinkBackend) -> None:
    with pytest.raises(KernelError) as err:
        backend.apply(
            o.CreateLink(Link("dummy_0.5", "vlan", mtu=9000, vlan_id=5, vlan_base="dummy_0"))
        )
    assert err.value.op == "create_link" and "dummy_0.5" in str(err.value)
    assert "dummy_0.5" not in backend.observe().links


def test_bridge_with_stp_and_options(backend: NetlinkBackend) -> None:
    opts = (("multicast_snooping", "0"), ("priority", "1"))
    br = Link("net1", "bridge", stp=True, bridge_opts=opts, tag="vdsm-net:net=net1")
    backend.apply(o.CreateLink(br))
    backend.apply(o.SetMaster("veth_0", master="net1"))
    state = backend.observe()
    assert state.links["net1"].with_(mac=None) == br
    assert state.ports_of("net1") == ["veth_0"]
    backend.apply(o.SetBridge("net1", stp=False, bridge_opts=(("hash_max", "512"),)))
    got = backend.observe().links["net1"]
    assert (got.stp, got.bridge_opts) == (False, (("hash_max", "512"),))
    backend.apply(o.SetMaster("veth_0", master=None))
    assert backend.observe().links["veth_0"].master is None


def test_mtu_up_tag_mac(backend: NetlinkBackend) -> None:
    backend.apply(o.SetMtu("dummy_1", mtu=9000))
    backend.apply(o.SetUp("dummy_1", up=True))
    backend.apply(o.SetTag("dummy_1", tag="vdsm-net:nic"))
    backend.apply(o.SetMac("dummy_1", mac="02:00:00:00:00:11"))
    got = backend.observe().links["dummy_1"]
    assert (got.mtu, got.up, got.tag, got.mac) == (9000, True, "vdsm-net:nic", "02:00:00:00:00:11")
    backend.apply(o.SetTag("dummy_1", tag=None))
    backend.apply(o.SetUp("dummy_1", up=False))
    got = backend.observe().links["dummy_1"]
    assert (got.tag, got.up) == (None, False)


def test_bulk_delete_leaves_foreign_links(backend: NetlinkBackend, nics_ns: str) -> None:
    backend.apply(o.CreateLink(Link("bond0", "bond", bond_options=(("mode", "1"),))))
    backend.apply(o.SetMaster("dummy_0", master="bond0"))
    backend.apply(o.CreateLink(Link("bond0.10", "vlan", vlan_id=10, vlan_base="bond0")))
    backend.apply(o.CreateLink(Link("net1", "bridge")))
    backend.apply(o.SetMaster("bond0.10", master="net1"))
    backend.apply(o.SetMaster("veth_0", master="net1"))  # a foreign port
    ip("-n", nics_ns, "link", "add", "foreign", "type", "bridge")
    backend.apply(o.DeleteLinks(("net1", "bond0.10", "bond0")))
    links = backend.observe().links
    assert set(links) == {"dummy_0", "dummy_1", "dummy_2", "veth_0", "veth_0p", "foreign"}
    assert links["dummy_0"].master is None and links["veth_0"].master is None


def test_delete_missing_link_names_it(backend: NetlinkBackend) -> None:
    with pytest.raises(KernelError, match="delete_links: nope: no such link nope"):
        backend.apply(o.DeleteLinks(("nope",)))


def test_set_master_error_names_both_ends(backend: NetlinkBackend) -> None:
    backend.apply(o.CreateLink(Link("bond0", "bond", bond_options=(("mode", "1"),))))
    backend.apply(o.CreateLink(Link("net1", "bridge")))
    backend.apply(o.SetMaster("dummy_0", master="net1"))
    backend.apply(o.SetMaster("dummy_0", master="bond0"))  # moves it (kernel allows)
    with pytest.raises(KernelError) as err:
        backend.apply(o.SetMaster("bond0", master="bond0"))
    assert str(err.value).startswith("set_master: bond0 -> bond0: ")


def test_create_is_all_or_nothing(backend: NetlinkBackend) -> None:
    # lacp_rate is refused in active-backup: the bond must not be left behind
    bad = Link("bond3", "bond", bond_options=(("mode", "1"), ("lacp_rate", "1")))
    with pytest.raises(KernelError) as err:
        backend.apply(o.CreateLink(bad))
    assert "bond3" in str(err.value) and "lacp_rate" in str(err.value)
    assert "bond3" not in backend.observe().links


def test_jumbo_stack_round_trips(backend: NetlinkBackend) -> None:
    bond = Link("bond0", "bond", mtu=9000, bond_options=(("mode", "4"),), tag="vdsm-net:bond=b")
    vlan = Link("bond0.20", "vlan", mtu=9000, vlan_id=20, vlan_base="bond0", tag="vdsm-net:net=n")
    bridge = Link("n", "bridge", mtu=9000, tag="vdsm-net:net=n", master=None)
    backend.apply(o.CreateLink(bond))
    for port in ("dummy_0", "dummy_1"):
        backend.apply(o.SetMtu(port, mtu=9000))
        backend.apply(o.SetMaster(port, master="bond0"))
    backend.apply(o.CreateLink(vlan))
    backend.apply(o.CreateLink(bridge))
    backend.apply(o.SetMaster("bond0.20", master="n"))
    for name in ("bond0", "bond0.20", "n"):
        backend.apply(o.SetUp(name, up=True))
    links = backend.observe().links
    assert links["bond0"].with_(mac=None) == bond.with_(up=True)
    assert links["bond0.20"].with_(mac=None) == vlan.with_(up=True, master="n")
    assert links["n"].with_(mac=None) == bridge.with_(up=True)
    assert {links[p].mtu for p in ("dummy_0", "dummy_1")} == {9000}
    assert links["dummy_0"].perm_mac != links["dummy_1"].perm_mac
