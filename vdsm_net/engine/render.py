"""Render the running config into the kernel objects the agent manages (vdsm-wire §4.4-§4.5).

Pure: ``render(config, observed)`` reads the observed state only to copy a NIC's observed facts
(index, permanent MAC) into its target, and to keep NICs the kernel does not have out of the
target's link set. Everything rendered is up but an OVS bridge's own link (``render_ovs``).
"""

from __future__ import annotations

import functools
import ipaddress
import zlib

from vdsm_net.engine.qos import render_tc
from vdsm_net.engine.render_ovs import render_ovs_network
from vdsm_net.model.desired import DEFAULT_MTU, Network, RunningConfig
from vdsm_net.model.kernel import (
    MAIN_TABLE,
    SOURCE_RULE_PRIORITY,
    TAG_PREFIX,
    Address,
    KernelState,
    Link,
    Route,
    Rule,
)

NIC_TAG = f"{TAG_PREFIX}nic"
NO_IPV6_GATEWAY = "::"


RESERVED_TABLES = frozenset({0, 253, 254, 255})


def net_tag(network: str) -> str:
    return f"{TAG_PREFIX}net={network}"


def bond_tag(bond: str) -> str:
    return f"{TAG_PREFIX}bond={bond}"


def top_tag(base_tag: str, network: str) -> str:
    """The tag of a NIC or bond that is itself the top device of a bridgeless, untagged
    network: its own tag plus the network's name, so a restarted agent can adopt it."""
    return f"{base_tag},net={network}"


def source_table(next_hop_iface: str) -> int:
    """The source-routing table of a network: adler32 of its next-hop interface name."""
    return zlib.adler32(next_hop_iface.encode())


def source_tables(config: RunningConfig) -> dict[str, int]:
    """A distinct table per network with a static gateway, or with DHCPv4 and no default
    route (its client puts the lease's routes there). vdsm's adler32 collides often on
    short names (net1..net999 collide by the hundred), and two networks sharing a table break
    each other's routes; so a collision takes the next free id, networks in name order."""
    used: set[int] = set(RESERVED_TABLES)
    out: dict[str, int] = {}
    for name in sorted(config.networks):
        net = config.networks[name]
        if net.top is None or not (
            (net.gateway is not None and net.ipaddr is not None)
            or (net.bootproto == "dhcp" and not net.default_route)
        ):
            continue
        table = source_table(net.top)
        while table in used:
            table = (table + 1) & 0xFFFFFFFF
        used.add(table)
        out[name] = table
    return out


def render(config: RunningConfig, observed: KernelState) -> KernelState:
    links: dict[str, Link] = {}
    base_mtu: dict[str, int] = {}
    for net in config.networks.values():
        if net.base is not None:
            base_mtu[net.base] = max(base_mtu.get(net.base, 0), net.mtu)

    for bond in config.bonds.values():
        mtu = base_mtu.get(bond.name, DEFAULT_MTU)
        links[bond.name] = Link(
            bond.name, "bond", mtu=mtu, up=True, tag=bond_tag(bond.name),
            mac=bond.hwaddr, bond_options=bond.options,
        )
        for nic in bond.nics:
            links[nic] = _nic(nic, mtu, bond.name, observed)

    for net in config.networks.values():
        if net.ovs:
            bridge = render_ovs_network(net, config, base_mtu, links, observed, net_tag(net.name))
            _southbound_port(net, bridge, base_mtu, links, observed)
        else:
            _render_network_links(net, base_mtu, links, observed)

    addresses: set[Address] = set()
    routes: set[Route] = set()
    rules: set[Rule] = set()
    tables = source_tables(config)
    for net in config.networks.values():
        _render_network_ip(net, tables.get(net.name), addresses, routes, rules)
    return KernelState(
        links=links,
        addresses=frozenset(addresses),
        routes=frozenset(routes),
        rules=frozenset(rules),
        tc=render_tc(config.networks.values()),
        dynamic=dynamic_families(config),
    )


def dynamic_families(config: RunningConfig) -> frozenset[tuple[str, int]]:
    """The ``(top device, family)`` pairs a DHCP client or SLAAC configures."""
    out: set[tuple[str, int]] = set()
    for net in config.networks.values():
        if net.top is None:
            continue
        if net.bootproto == "dhcp":
            out.add((net.top, 4))
        if net.dhcpv6 or net.ipv6autoconf:
            out.add((net.top, 6))
    return frozenset(out)


def client_address(address: Address, dynamic: frozenset[tuple[str, int]]) -> bool:
    """Whether an address belongs to a DHCP client or SLAAC rather than to the plan: any IPv4
    address of a DHCPv4 pair (bootproto dhcp has no static IPv4), and the IPv6 addresses of a
    dynamic IPv6 pair that the kernel holds with a lifetime (a static ``ipv6addr`` is permanent
    and stays the plan's, so removing it from an autoconf network deletes it)."""
    return (address.ifname, address.family) in dynamic and (
        address.family == 4 or address.dynamic
    )


def dynamic_changes(old: RunningConfig, new: RunningConfig) -> frozenset[str]:
    """The top devices whose dynamic families differ between two configs: a client started or
    stopped there may have changed them, so a revert must look at them even without a write."""
    return frozenset(name for name, _ in dynamic_families(old) ^ dynamic_families(new))


def revert_target(pre: KernelState, config: RunningConfig) -> KernelState:
    """The pre-call observation as a revert target for ``config`` (the running config it goes
    back to): what that config's clients configure is theirs, not the revert's, so a lease that
    arrived or changed during the failed call is neither deleted nor replaced by the old one."""
    dyn = dynamic_families(config)
    routes = frozenset(r for r in pre.routes if (r.oif, r.family) not in dyn)
    tables = {r.table for r in pre.routes - routes if r.table != MAIN_TABLE}
    return KernelState(
        links=pre.links,
        addresses=frozenset(a for a in pre.addresses if not client_address(a, dyn)),
        routes=routes,
        rules=frozenset(r for r in pre.rules if r.table not in tables),
        tc=pre.tc,
        dynamic=dyn,
    )


def _nic(name: str, mtu: int, master: str | None, observed: KernelState) -> Link:
    seen = observed.links.get(name)
    link = Link(name, "nic", mtu=mtu, up=True, master=master, tag=NIC_TAG)
    if seen is None:
        return link
    return link.with_(index=seen.index, perm_mac=seen.perm_mac, oper_up=seen.oper_up)


def _southbound_port(
    net: Network, bridge: str | None, base_mtu: dict[str, int], links: dict[str, Link],
    observed: KernelState,
) -> None:
    """The NIC or bond under ``bridge``: a NIC not yet rendered is rendered as its port."""
    base = net.base
    if base is None or bridge is None:
        return
    if base not in links:
        links[base] = _nic(base, base_mtu.get(base, DEFAULT_MTU), bridge, observed)
    else:
        links[base] = links[base].with_(master=bridge)


def _render_network_links(
    net: Network, base_mtu: dict[str, int], links: dict[str, Link], observed: KernelState
) -> None:
    tag = net_tag(net.name)
    bridge = net.name if net.bridged else None
    base = net.base
    vlan_dev = net.vlan_device
    if net.nic is not None and net.nic not in links:
        master = bridge if vlan_dev is None else None
        links[net.nic] = _nic(net.nic, base_mtu.get(net.nic, DEFAULT_MTU), master, observed)
    elif base is not None and vlan_dev is None and bridge is not None and base in links:
        links[base] = links[base].with_(master=bridge)
    if bridge is None and vlan_dev is None and base is not None and base in links:
        links[base] = links[base].with_(tag=top_tag(links[base].tag or NIC_TAG, net.name))
    if vlan_dev is not None and base is not None:
        links[vlan_dev] = Link(
            vlan_dev, "vlan", mtu=net.mtu, up=True, master=bridge, tag=tag,
            vlan_id=net.vlan, vlan_base=base,
        )
    if bridge is not None:
        links[bridge] = Link(
            bridge, "bridge", mtu=net.mtu, up=True, tag=tag, stp=net.stp,
            bridge_opts=net.bridge_opts,
        )


@functools.lru_cache(maxsize=64)
def _prefixlen(netmask: str) -> int:
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


def _subnet(ipaddr: str, prefix: int) -> str:
    """The network of a (validated) dotted-quad address, as "a.b.c.d/len"."""
    value = 0
    for part in ipaddr.split("."):
        value = (value << 8) | int(part)
    value &= (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    quads = ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))
    return f"{quads}/{prefix}"


def _render_network_ip(
    net: Network,
    table: int | None,
    addresses: set[Address],
    routes: set[Route],
    rules: set[Rule],
) -> None:
    top = net.top
    if top is None:
        return
    static4 = net.bootproto != "dhcp" and net.ipaddr is not None and net.netmask is not None
    if static4:
        assert net.ipaddr is not None and net.netmask is not None
        prefix = _prefixlen(net.netmask)
        addresses.add(Address(top, f"{net.ipaddr}/{prefix}"))
        if net.gateway is not None and table is not None:
            if net.default_route:
                routes.add(Route("0.0.0.0/0", top, net.gateway, MAIN_TABLE))
            subnet = _subnet(net.ipaddr, prefix)
            routes.add(Route("0.0.0.0/0", top, net.gateway, table))
            routes.add(Route(subnet, top, None, table, scope_link=True))
            rules.add(Rule(SOURCE_RULE_PRIORITY, table, src=subnet))
            rules.add(Rule(SOURCE_RULE_PRIORITY, table, dst=subnet))
    if net.ipv6addr is not None:
        addresses.add(Address(top, net.ipv6addr))
        gw6 = net.ipv6gateway
        if net.default_route and gw6 is not None and gw6 != NO_IPV6_GATEWAY:
            routes.add(Route("::/0", top, gw6, MAIN_TABLE))
