"""The OVS networks in getCapabilities, shaped as vdsm reports them: the engine sees the
legacy-shaped topology it knows.

An OVS network's entry carries ``switch: "ovs"``, ``iface``, ``southbound`` (the NIC or bond, or
``<base>.<vlan>`` for a tagged one), ``ports`` and ``bridged``, with the IP facts of its internal
port. vdsm adds shadow entries for what a legacy network would have had: ``bridges[net]`` for a
bridged network (its port the southbound name) and ``vlans["<base>.<vlan>"]`` for a tagged one.
The OVS bridges and internal ports themselves are listed nowhere.
"""

from __future__ import annotations

from typing import Any

from vdsm_net.model.desired import Network
from vdsm_net.model.kernel import Link


def ovs_network(info: dict[str, Any], net: Network) -> dict[str, Any]:
    """``networks[net]``, from ``info`` (the devinfo fields of the network's internal port)."""
    south = net.southbound
    out = dict(info, bridged=net.bridged, switch="ovs")
    if net.bridged:
        out.update(iface=net.name, ports=[south] if south else [], stp="off", southbound=south)
    else:
        out.update(iface=south or net.name, interface=south or net.name, southbound=south or "")
    if net.vlan is not None:
        out["vlanid"] = net.vlan
    if net.host_qos is not None:
        out["hostQos"] = net.host_qos
    return out


def ovs_shadows(
    info: dict[str, Any], blank: dict[str, Any], net: Network, port: Link
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shadow ``bridges`` and ``vlans`` entries of one OVS network (each map by name).

    ``blank`` holds the devinfo fields of a device without IP: the VLAN of a bridged network
    carries no IP in vdsm's picture, the bridge (or a bridgeless network's VLAN) does."""
    bridges: dict[str, Any] = {}
    vlans: dict[str, Any] = {}
    south = net.southbound
    if net.bridged:
        bridges[net.name] = dict(info, ports=[south] if south else [], stp="off", opts={})
    if net.vlan is not None and south is not None and net.base is not None:
        vlan_info = blank if net.bridged else info
        vlans[south] = dict(vlan_info, mtu=str(port.mtu), iface=net.base, vlanid=net.vlan)
    return bridges, vlans
