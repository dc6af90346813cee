"""Render the OVS networks (``switch: ovs``) into the OVS objects the agent manages.

Per southbound NIC or bond one OVS bridge (``model.ovs.ovs_bridge_name``) with the NIC or bond as
its port, without IP; per network an internal port named after the network with the network's
MTU, its IP configuration (``render`` adds it, the port being the network's top device), a VLAN
as access tag, and the MAC of the NIC or bond. The bridge's MTU is the largest of its networks;
its own local link stays down (OVS switches without it, and down it takes no IPv6 link-local
address, router advertisement or default route).
"""

from __future__ import annotations

from vdsm_net.model.desired import Network, RunningConfig
from vdsm_net.model.kernel import KernelState, Link
from vdsm_net.model.ovs import ovs_bridge_name, ovs_bridge_tag


def ovs_port_tag(net: Network, tag: str) -> str:
    """A network's tag on its internal port; a bridgeless one says so (the kernel cannot)."""
    return tag if net.bridged else f"{tag},bridged=false"


def southbound_mac(base: str, config: RunningConfig, observed: KernelState) -> str | None:
    """The MAC the southbound device has, or will have: a bond's forced MAC, else the bond's
    current one, else (a bond about to be made) its first NIC's, which the bonding driver takes."""
    bond = config.bonds.get(base)
    if bond is not None and bond.hwaddr is not None:
        return bond.hwaddr.lower()
    seen = observed.links.get(base)
    if seen is not None and seen.mac:
        return seen.mac
    if bond is not None and bond.nics:
        first = observed.links.get(bond.nics[0])
        if first is not None:
            return first.perm_mac or first.mac
    return None


def render_ovs_network(
    net: Network, config: RunningConfig, base_mtu: dict[str, int], links: dict[str, Link],
    observed: KernelState, tag: str,
) -> str | None:
    """Add the bridge and the internal port of ``net`` to ``links``; return the bridge, so the
    caller makes the NIC or bond its port."""
    base = net.base
    if base is None:
        return None
    bridge = ovs_bridge_name(base)
    links[bridge] = Link(bridge, "ovs-bridge", mtu=base_mtu[base], up=False,
                         tag=ovs_bridge_tag(base))
    links[net.name] = Link(
        net.name, "ovs-port", mtu=net.mtu, up=True, master=bridge, vlan_id=net.vlan,
        mac=southbound_mac(base, config, observed), tag=ovs_port_tag(net, tag),
    )
    return bridge
