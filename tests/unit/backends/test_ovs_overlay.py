"""The OVS backend's pure parts: the OVSDB picture overlaid on a netlink dump, and which ops
go to OVSDB, in how many transactions."""

from __future__ import annotations

from vdsm_net.backends.ovs import txn as t
from vdsm_net.backends.ovs.backend import overlay
from vdsm_net.backends.ovs.ovsdb import OvsPort, OvsView
from vdsm_net.model import ops as o
from vdsm_net.model.kernel import Link

BR = "vdsmbr_12345678"
VIEW = OvsView(
    bridges={BR: "vdsm-net:ovsbr=eth0", "foreign": None},
    ports={"red": OvsPort("red", BR, True, 10, "vdsm-net:net=red"),
           "eth0": OvsPort("eth0", BR, False, None, None)},
)
NETLINK = {
    "ovs-system": Link("ovs-system", "other", master=None),
    BR: Link(BR, "other", master="ovs-system", mtu=9000),
    "red": Link("red", "other", master="ovs-system", mtu=9000, mac="52:54:00:00:00:01"),
    "eth0": Link("eth0", "nic", master="ovs-system", tag="vdsm-net:nic"),
    "eth1": Link("eth1", "nic"),
}


def test_overlay_gives_ovs_kinds_masters_tags_and_hides_the_datapath() -> None:
    links = overlay(NETLINK, VIEW)
    assert "ovs-system" not in links
    assert links[BR] == Link(BR, "ovs-bridge", mtu=9000, tag="vdsm-net:ovsbr=eth0")
    assert links["red"] == Link("red", "ovs-port", master=BR, vlan_id=10, mtu=9000,
                                mac="52:54:00:00:00:01", tag="vdsm-net:net=red")
    assert links["eth0"].master == BR and links["eth0"].tag == "vdsm-net:nic"
    assert links["eth1"] == NETLINK["eth1"]
    assert links["foreign"].kind == "ovs-bridge" and links["foreign"].tag is None


def test_which_ops_are_ovsdbs() -> None:
    ovs_ops = [o.CreateLink(Link("x", "ovs-port", master=BR)), o.SetMaster("eth1", BR),
               o.SetMaster("eth0", None), o.SetMtu("red", 1500), o.SetTag(BR, None),
               o.SetMac("red", "52:54:00:00:00:09"), o.DeleteLinks((BR, "red"))]
    netlink_ops = [o.SetUp("red", True), o.SetMtu("eth0", 9000), o.SetTag("eth0", None),
                   o.SetMaster("eth1", "bond0"), o.CreateLink(Link("bond0", "bond")),
                   o.DeleteLinks(("eth1.5",))]
    assert [t.is_ovs_op(op, VIEW) for op in ovs_ops] == [True] * len(ovs_ops)
    assert [t.is_ovs_op(op, VIEW) for op in netlink_ops] == [False] * len(netlink_ops)


def test_a_mixed_deletion_is_split_and_the_view_follows_the_ops() -> None:
    parts = t.split(o.DeleteLinks(("br0", BR)), VIEW)
    assert parts == [o.DeleteLinks((BR,)), o.DeleteLinks(("br0",))]
    after = t.project(VIEW, o.DeleteLinks((BR,)))
    assert after.bridges == {"foreign": None} and after.ports == {}
    added = t.project(VIEW, o.CreateLink(Link("blue", "ovs-port", master=BR, vlan_id=None)))
    assert added.ports["blue"] == OvsPort("blue", BR, True, None, None)
    assert t.recreates(o.CreateLink(Link("red", "ovs-port", master=BR)), {"red"})
    assert not t.recreates(o.SetMtu("red", 1500), {"red"})


def test_kernel_effects_of_a_transaction() -> None:
    ops = [o.CreateLink(Link("red", "ovs-port", master=BR, mtu=9000)), o.SetMtu(BR, 4000),
           o.DeleteLinks(("blue",)), o.DeleteLinks(("green",)),
           o.CreateLink(Link("green", "ovs-port", master=BR))]
    assert t.kernel_effects(ops) == ({"red": 9000, BR: 4000, "green": 1500}, {"blue"})
