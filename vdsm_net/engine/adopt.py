"""Rebuild the running config from the kernel's ownership tags, after an agent restart.

The tags (see ``render``) and the kernel's own facts are the only memory that outlives the
process. What the kernel cannot hold is not recovered: ``nameservers``, ``custom`` keys other than
``bridge_opts``, and whether a bond's MAC was forced. The engine's next request
brings them back; none of them changes what is rendered into the kernel. ``hostQos`` is read
back from the HFSC classes on the network's base device (``qos.adopted_qos``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from vdsm_net.engine.qos import adopted_qos
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.kernel import MAIN_TABLE, TAG_PREFIX, KernelState, Link


def tag_fields(tag: str | None) -> dict[str, str]:
    """``vdsm-net:bond=bond0,net=data`` -> ``{"bond": "bond0", "net": "data"}``."""
    if not tag or not tag.startswith(TAG_PREFIX):
        return {}
    out: dict[str, str] = {}
    for item in tag[len(TAG_PREFIX):].split(","):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def adopt(state: KernelState) -> RunningConfig:
    bonds: dict[str, Bond] = {}
    tops: dict[str, Link] = {}  # network -> the link that carries its IP configuration
    for link in state.links.values():
        fields = tag_fields(link.tag)
        if link.kind == "bond" and fields.get("bond") == link.name:
            master = state.links.get(link.master or "")
            bonds[link.name] = Bond(
                link.name, tuple(state.ports_of(link.name)), link.bond_options or (("mode", "0"),),
                switch="ovs" if master is not None and master.kind == "ovs-bridge" else "legacy",
            )
        net = fields.get("net")
        if net is None:
            continue
        if link.kind == "bridge" or net not in tops:
            tops[net] = link  # a network's bridge wins over its VLAN
    networks = {name: _network(state, name, top) for name, top in sorted(tops.items())}
    return RunningConfig(networks=networks, bonds=bonds)


def _southbound(state: KernelState, top: Link) -> Link | None:
    if top.kind == "ovs-port":
        top = state.links.get(top.master or "") or top
    elif top.kind != "bridge":
        return top
    for port in state.ports_of(top.name):
        link = state.links[port]
        if link.kind != "ovs-port" and link.tag and link.tag.startswith(TAG_PREFIX):
            return link
    return None


def _network(state: KernelState, name: str, top: Link) -> Network:
    south = _southbound(state, top)
    base: Link | None = south
    vlan = None
    if south is not None and south.kind == "vlan":
        vlan = south.vlan_id
        base = state.links.get(south.vlan_base or "")
    nic = base.name if base is not None and base.kind == "nic" else None
    bonding = base.name if base is not None and base.kind == "bond" else None
    bridged = top.kind == "bridge"
    if top.kind == "ovs-port":
        vlan, bridged = top.vlan_id, tag_fields(top.tag).get("bridged") != "false"
    net = Network(
        name, nic=nic, bonding=bonding, vlan=vlan, bridged=bridged, mtu=top.mtu,
        switch="ovs" if top.kind == "ovs-port" else "legacy",
    )
    if top.kind == "bridge":
        net = _replace(net, stp=top.stp, bridge_opts=top.bridge_opts)
    qos = adopted_qos(net, state.tc)
    if qos is not None:
        net = _replace(net, host_qos=qos)
    return _with_ip(state, net, top.name)


def _with_ip(state: KernelState, net: Network, top: str) -> Network:
    v4 = [a.address for a in state.addresses_of(top) if a.family == 4]
    v6 = [a.address for a in state.addresses_of(top) if a.family == 6]
    changes: dict[str, object] = {}
    if v4:
        iface = ipaddress.IPv4Interface(v4[0])
        changes.update(ipaddr=str(iface.ip), netmask=str(iface.netmask))
    if v6:
        changes["ipv6addr"] = v6[0]
    for route in state.routes:
        if route.oif != top or not route.is_default or route.gateway is None:
            continue
        if route.family == 4 and v4:
            changes["gateway"] = route.gateway
            if route.table == MAIN_TABLE:
                changes["default_route"] = True
        elif route.family == 6 and route.table == MAIN_TABLE:
            changes["ipv6gateway"] = route.gateway
            changes["default_route"] = True
    return _replace(net, **changes)


def _replace(net: Network, **changes: object) -> Network:
    return replace(net, **changes)  # type: ignore[arg-type]
