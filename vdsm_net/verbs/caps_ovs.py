"""The OVS networks in getCapabilities, shaped as vdsm reports them: the engine sees the
legacy-shaped topology it knows.

An OVS network's entry carries ``switch: "ovs"``, ``iface``, ``southbound`` (the NIC or bond, or
``<base>.<vlan>`` for a tagged one), ``ports`` and ``bridged``, with the IP facts of its internal
port. vdsm adds shadow entries for what a legacy network would have had: ``bridges[net]`` for a
bridged network (its port the southbound name) and ``vlans["<base>.<vlan>"]`` for a tagged one.
The OVS bridges and internal ports themselves are listed nowhere.
"""

from __future__ import annotations

from vdsm_net.model.desired import Network
from vdsm_net.model.kernel import Link
from vdsm_net.verbs.shapes import (
    BridgeCaps,
    BridgedNetCaps,
    BridgelessNetCaps,
    DevInfo,
    VlanCaps,
)


def _ports(net: Network) -> list[str]:
    return [net.southbound] if net.southbound else []


def ovs_bridged(info: DevInfo, net: Network) -> BridgedNetCaps:
    """``networks[net]`` of a bridged OVS network, from ``info`` (its internal port's fields)."""
    return {**info, "bridged": True, "iface": net.name,  # type: ignore[typeddict-item]
            "switch": "ovs", "ports": _ports(net), "stp": "off", "southbound": net.southbound}


def ovs_bridgeless(info: DevInfo, net: Network) -> BridgelessNetCaps:
    """``networks[net]`` of a bridgeless OVS network (its iface the southbound name)."""
    top = net.southbound or net.name
    return {**info, "bridged": False, "iface": top,  # type: ignore[typeddict-item]
            "switch": "ovs", "interface": top, "southbound": net.southbound or ""}


def ovs_shadows(
    info: DevInfo, blank: DevInfo, net: Network, port: Link
) -> tuple[dict[str, BridgeCaps], dict[str, VlanCaps]]:
    """The shadow ``bridges`` and ``vlans`` entries of one OVS network (each map by name).

    ``blank`` holds the devinfo fields of a device without IP: the VLAN of a bridged network
    carries no IP in vdsm's picture, the bridge (or a bridgeless network's VLAN) does."""
    bridges: dict[str, BridgeCaps] = {}
    vlans: dict[str, VlanCaps] = {}
    south = net.southbound
    if net.bridged:
        bridges[net.name] = {**info, "ports": _ports(net), "stp": "off", "opts": {}}
    if net.vlan is not None and south is not None and net.base is not None:
        vlan_info = blank if net.bridged else info
        vlans[south] = {**vlan_info, "mtu": str(port.mtu), "iface": net.base,
                        "vlanid": net.vlan}
    return bridges, vlans
