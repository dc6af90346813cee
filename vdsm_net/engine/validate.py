"""Validation of a canonical request: vdsm-wire §4.3, in that order; the first failure wins.

``validate(request, running, desired, observed)`` with ``desired = merge(running, request)``.
Pure: it reads its inputs and raises ``NetworkError`` with vdsm's code (and vdsm's message text
where §4.3 quotes it, naming the object). Additions of ours, all at the places noted: a bond name
longer than the kernel's 15 characters (25), legacy and ovs networks on one device (21), a VLAN
device name over 15 characters (26), and unknown or bad ``custom.bridge_opts`` (21; vdsm finds
those only while applying). Against hostile input (issue 12): a bootproto other than 'none' or
'dhcp' (21); names the kernel or the ownership tag cannot hold (27, see ``names``); multicast,
loopback, unspecified and broadcast addresses and gateways, a prefix 0 off the default route
network, and a nameserver that is not one address (22); a bridge or VLAN the network would create
that exists and is not ours (27, 26): an unowned link is never taken over. And vdsm's host QoS
rules (``qos.check_host_qos``, 21).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from vdsm_net.engine.qos import check_host_qos
from vdsm_net.engine.render import bond_tag, top_tag
from vdsm_net.engine.takeover import check_takeover
from vdsm_net.model.bridgeopts import bridge_option_value
from vdsm_net.model.desired import Bond, Network, Request, RunningConfig
from vdsm_net.model.errors import (
    ERR_BAD_ADDR,
    ERR_BAD_BONDING,
    ERR_BAD_BRIDGE,
    ERR_BAD_NIC,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    ERR_USED_BOND,
    ERR_USED_NIC,
    NetworkError,
)
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.names import (
    IFALIASZ,
    IFNAMSIZ,
    host_address_problem,
    link_name_problem,
    nameserver_problem,
    special_address_problem,
    tag_name_problem,
)

MAX_VLAN_ID = 4094
HIDDEN_NIC_PREFIXES = ("w", "usb")  # vdsm's default hidden_nics = w*,usb*
BOOTPROTOS = ("none", "dhcp")
MAX_NAMESERVERS = 32
TAG_ROOM = IFALIASZ - len(top_tag(bond_tag("b" * IFNAMSIZ), ""))
"""The bytes a network name may take: the longest tag is a bond's that tops a network."""
_BOND_NAME = re.compile(r"bond\w+", re.ASCII)
_BAD_BRIDGE_CHARS = frozenset(":. \t")


def _fail(code: int, message: str) -> NetworkError:
    return NetworkError(code, message)


def _live_networks(request: Request) -> Iterator[tuple[str, Network]]:
    for name, net in request.networks.items():
        if net is not None:
            yield name, net


def _live_bonds(request: Request) -> Iterator[tuple[str, Bond]]:
    for name, bond in request.bondings.items():
        if bond is not None:
            yield name, bond


def valid_bond_name(name: str) -> bool:
    return bool(_BOND_NAME.fullmatch(name)) and len(name) <= IFNAMSIZ


def valid_bridge_name(name: str) -> bool:
    """vdsm's rule, plus what the kernel cannot hold or would rename (see ``names``)."""
    return (
        0 < len(name) <= IFNAMSIZ
        and not _BAD_BRIDGE_CHARS.intersection(name)
        and not name.startswith("-")
        and not link_name_problem(name)
    )


def visible_nics(observed: KernelState) -> frozenset[str]:
    """NICs the engine may use: observed links of kind "nic" that vdsm does not hide."""
    return frozenset(
        name
        for name, link in observed.links.items()
        if link.kind == "nic" and not name.startswith(HIDDEN_NIC_PREFIXES)
    )


# --- §4.3 step 2: link.validator -------------------------------------------------------------

def _check_links(request: Request) -> None:
    names = [*request.bondings]
    names += [net.bonding for _, net in _live_networks(request) if net.bonding is not None]
    for name in names:
        if not valid_bond_name(name):
            raise _fail(
                ERR_BAD_BONDING,
                f"Bad bond name {name!r}: it must match 'bond\\w+' and have at most "
                f"{IFNAMSIZ} characters",
            )
    for name, bond in _live_bonds(request):
        if not bond.nics:
            raise _fail(ERR_BAD_PARAMS, f"{name}: Must specify nics for bonding")
    for name, net in _live_networks(request):
        if net.vlan is not None and net.base is None:
            raise _fail(
                ERR_BAD_VLAN, f"Network {name}: vlan {net.vlan} needs a nic or a bonding"
            )


# --- §4.3 step 3: ip.validator ---------------------------------------------------------------

def _parses(parse: Callable[[str], object], text: str, version: int) -> bool:
    try:
        value = parse(text)
    except ValueError:
        return False
    return getattr(value, "version", None) == version


def _check_ipv4(name: str, net: Network) -> None:
    if net.ipaddr is not None:
        if not _parses(ipaddress.ip_interface, f"{net.ipaddr}/{net.netmask or ''}", 4):
            raise _fail(
                ERR_BAD_ADDR,
                f"Network {name}: bad IPv4 address/netmask {net.ipaddr!r}/{net.netmask!r}",
            )
        if net.gateway is not None and not _parses(ipaddress.ip_address, net.gateway, 4):
            raise _fail(ERR_BAD_ADDR, f"Network {name}: bad IPv4 gateway {net.gateway!r}")
        if net.bootproto == "dhcp":
            raise _fail(
                ERR_BAD_ADDR, f"Network {name}: a static ipaddr cannot be used with dhcp"
            )
        _check_host_address(name, net, ipaddress.IPv4Interface(f"{net.ipaddr}/{net.netmask}"))
        if net.gateway is not None:
            _check_gateway(name, ipaddress.IPv4Address(net.gateway))
    elif net.gateway is not None or net.netmask is not None:
        raise _fail(ERR_BAD_ADDR, f"Network {name}: gateway or netmask given without ipaddr")


def _check_ipv6(name: str, net: Network) -> None:
    if net.ipv6addr is not None:
        if not _parses(ipaddress.ip_interface, net.ipv6addr, 6):
            raise _fail(ERR_BAD_ADDR, f"Network {name}: bad IPv6 address {net.ipv6addr!r}")
        _check_host_address(name, net, ipaddress.IPv6Interface(net.ipv6addr))
    if net.ipv6gateway is not None:
        if not _parses(ipaddress.ip_address, net.ipv6gateway, 6):
            raise _fail(ERR_BAD_ADDR, f"Network {name}: bad IPv6 gateway {net.ipv6gateway!r}")
        gateway = ipaddress.IPv6Address(net.ipv6gateway)
        if not gateway.is_unspecified:  # '::' means "no gateway" (vdsm-wire §3.1)
            _check_gateway(name, gateway)


def _check_host_address(
    name: str, net: Network, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
) -> None:
    """Ours: an address the kernel takes but that breaks the host (vdsm accepts these)."""
    problem = host_address_problem(iface, net.default_route)
    if problem:
        raise _fail(ERR_BAD_ADDR, f"Network {name}: {iface} {problem}")


def _check_gateway(name: str, gateway: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    problem = special_address_problem(gateway)
    if problem:
        raise _fail(ERR_BAD_ADDR, f"Network {name}: gateway {gateway} is {problem}")


def _check_nameservers(name: str, net: Network) -> None:
    if net.nameservers and not net.default_route:
        raise _fail(
            ERR_BAD_PARAMS,
            f"Network {name}: nameservers are allowed only on the default route network",
        )
    if len(net.nameservers) > MAX_NAMESERVERS:
        raise _fail(ERR_BAD_PARAMS, f"Network {name}: more than {MAX_NAMESERVERS} nameservers")
    for server in net.nameservers:
        problem = nameserver_problem(server)
        if problem:
            raise _fail(ERR_BAD_ADDR, f"Network {name}: bad nameserver {server!r}: {problem}")


def _check_ip(request: Request) -> None:
    for name, net in _live_networks(request):
        if net.bootproto not in BOOTPROTOS:
            raise _fail(
                ERR_BAD_PARAMS,
                f"Network {name}: bootproto {net.bootproto!r} is not one of "
                + ", ".join(repr(b) for b in BOOTPROTOS),
            )
        _check_ipv4(name, net)
        _check_ipv6(name, net)
        _check_nameservers(name, net)


# --- §4.3 step 4: the switch, southbound usage, per network, per bond, NIC usage -------------

def _check_switch(request: Request, running: RunningConfig) -> None:
    switches: dict[str, str] = {}
    for name, net in request.networks.items():
        old = running.networks.get(name)
        switch = net.switch if net is not None else (old.switch if old else None)
        if switch is not None:
            switches[f"network {name}"] = switch
    for name, bond in request.bondings.items():
        old_bond = running.bonds.get(name)
        switch = bond.switch if bond is not None else (old_bond.switch if old_bond else None)
        if switch is not None:
            switches[f"bond {name}"] = switch
    if len(set(switches.values())) > 1:
        raise _fail(
            ERR_BAD_PARAMS,
            "Mixing of legacy and ovs networks/bonds is not supported: "
            + ", ".join(f"{what}={switch}" for what, switch in switches.items()),
        )


def _check_switch_per_device(desired: RunningConfig) -> None:
    """One southbound device is either under Linux networks or under one OVS bridge (21)."""
    seen: dict[str, tuple[str, str]] = {}
    for name in sorted(desired.networks):
        net = desired.networks[name]
        if net.base is None:
            continue
        first = seen.setdefault(net.base, (net.switch, name))
        if first[0] != net.switch:
            raise _fail(
                ERR_BAD_PARAMS,
                f"Mixing of legacy and ovs networks on {net.base} is not supported: "
                f"network {first[1]}={first[0]}, network {name}={net.switch}",
            )
        bond = desired.bonds.get(net.base)
        if bond is not None and bond.switch != net.switch:
            raise _fail(
                ERR_BAD_PARAMS,
                f"Network {name} (switch {net.switch}) on bond {bond.name} "
                f"(switch {bond.switch}) is not supported",
            )


def _check_southbound(desired: RunningConfig) -> None:
    for name, net in desired.networks.items():
        if not net.bridged and net.base is None:
            raise _fail(
                ERR_BAD_PARAMS,
                f"Network {name}: southbound device not specified for non-bridged network",
            )
    users: dict[tuple[str, int | None], str] = {}
    for name, net in desired.networks.items():
        if net.base is None:
            continue
        key = (net.base, net.vlan)
        if key in users:
            raise _fail(
                ERR_BAD_PARAMS,
                f"Networks {users[key]} and {name}: multiple networks/similar vlans cannot be "
                f"defined on a single underlying device ({net.southbound})",
            )
        users[key] = name


def _check_removed_network(name: str, request: Request, running: RunningConfig) -> None:
    if name in request.remove_conflicts:
        raise _fail(
            ERR_BAD_PARAMS,
            f"Network {name}: 'remove' cannot be combined with other attributes but 'custom'",
        )
    if name not in running.networks:  # a link of that name is not a network (vdsm: 27 too)
        raise _fail(
            ERR_BAD_BRIDGE, f"Cannot delete network {name}: It doesn't exist in the system"
        )


def _check_network(
    name: str, net: Network, desired: RunningConfig, nics: frozenset[str]
) -> None:
    if net.vlan is not None and not 0 <= net.vlan <= MAX_VLAN_ID:
        raise _fail(ERR_BAD_VLAN, f"Network {name}: vlan id {net.vlan} is not in 0..{MAX_VLAN_ID}")
    if net.nic is not None and net.nic not in nics:
        raise _fail(ERR_BAD_NIC, f"Nic {net.nic} does not exist (network {name})")
    if net.bonding is not None and net.bonding not in desired.bonds:
        raise _fail(ERR_BAD_BONDING, f"Bond {net.bonding} does not exist (network {name})")
    if net.bridged and not valid_bridge_name(name):
        problem = link_name_problem(name)
        raise _fail(ERR_BAD_BRIDGE, f"Bridge name isn't valid: {name!r}"
                    + (f": {problem}" if problem else ""))
    problem = tag_name_problem(name, TAG_ROOM)
    if problem:
        raise _fail(ERR_BAD_BRIDGE, f"Network name isn't valid: {name!r}: {problem}")


def _check_networks(
    request: Request, running: RunningConfig, desired: RunningConfig, observed: KernelState
) -> None:
    nics = visible_nics(observed)
    for name, net in request.networks.items():
        if net is None:
            _check_removed_network(name, request, running)
        else:
            _check_network(name, net, desired, nics)
    check_takeover(request, running, desired, observed)


def _check_bonds(request: Request, desired: RunningConfig, observed: KernelState) -> None:
    nics = visible_nics(observed)
    for name, bond in request.bondings.items():
        if bond is None:
            users = sorted(n for n, net in desired.networks.items() if net.bonding == name)
            if users:
                raise _fail(
                    ERR_USED_BOND,
                    f"Cannot remove bond {name}: it is used by network(s) {', '.join(users)}",
                )
            continue
        for nic in bond.nics:
            if nic not in nics:
                raise _fail(ERR_BAD_NIC, f"Nic {nic} does not exist (slave of bond {name})")


def _check_nic_usage(desired: RunningConfig, observed: KernelState) -> None:
    owner: dict[str, str] = {}
    for name, bond in desired.bonds.items():
        for nic in bond.nics:
            if nic in owner:
                raise _fail(
                    ERR_USED_NIC,
                    f"Nics with multiple usages: {nic} is a slave of {owner[nic]} and {name}",
                )
            owner[nic] = name
    for name, net in desired.networks.items():
        if net.nic is not None and net.nic in owner:
            raise _fail(
                ERR_USED_NIC,
                f"Nics with multiple usages: {net.nic} is a slave of {owner[net.nic]} "
                f"and the nic of network {name}",
            )
    for link in observed.links.values():
        if link.kind == "vlan" and link.tag is None and link.vlan_base in owner:
            raise _fail(
                ERR_USED_NIC,
                f"Nics with multiple usages: {link.vlan_base} is a slave of "
                f"{owner[link.vlan_base]} and the base of the unowned vlan {link.name}",
            )


# --- additions of ours, after everything vdsm checks ----------------------------------------

def _check_device_names(request: Request) -> None:
    for name, net in _live_networks(request):
        device = net.vlan_device
        if device is not None and len(device) > IFNAMSIZ:
            raise _fail(
                ERR_BAD_VLAN,
                f"Network {name}: the vlan device name {device!r} is longer than {IFNAMSIZ} "
                "characters",
            )


def _check_bridge_opts(request: Request) -> None:
    for name, net in _live_networks(request):
        for key, value in net.bridge_opts:
            try:
                bridge_option_value(key, value)
            except ValueError as err:
                raise _fail(ERR_BAD_PARAMS, f"Network {name}: {err}") from None


def validate(
    request: Request, running: RunningConfig, desired: RunningConfig, observed: KernelState
) -> None:
    """Raise the first rule of vdsm-wire §4.3 the request breaks; return None when it is valid."""
    _check_links(request)
    _check_ip(request)
    _check_switch(request, running)
    _check_switch_per_device(desired)
    _check_southbound(desired)
    _check_networks(request, running, desired, observed)
    _check_bonds(request, desired, observed)
    _check_nic_usage(desired, observed)
    _check_device_names(request)
    _check_bridge_opts(request)
    check_host_qos(desired)
