"""The simulated kernel: a Backend that keeps links, addresses, routes and rules in memory.

It enforces the real kernel's rules (DESIGN.md) and mirrors its side effects where they are known:
- names are unique, non-empty and at most 15 characters; NICs cannot be created or deleted;
  the loopback `lo` exists, observed only as a hidden name;
- a port has one master; a bond port must be down when it is enslaved, and the bond opens it
  (sets it up) and gives it the bond's MTU; setting a bond's MTU sets its ports' MTU; a bond
  made without a MAC takes its first port's;
- releasing a bond port, or deleting its bond, closes the port (down) and gives it back the MTU it
  had when it was enslaved, as the bonding driver does (6.1); a bridge port keeps its MTU and
  state when it is released or its bridge is deleted;
- a VLAN needs its base, its MTU may not exceed the base's, lowering the base's MTU clamps the
  VLANs above it, and deleting the base deletes its VLANs;
- a bond mode change needs the bond down and without ports;
- addresses, routes (one per table and destination) and rules are unique;
- a route needs its link up and an IPv4/IPv6 gateway reachable through an address on the link
  (or a link-scope route in the same table);
- setting a link down drops its routes and its IPv6 addresses; deleting a link's last IPv4
  address drops its IPv4 routes; deleting a link drops its addresses, routes and ports' master;
- a bridge gets no addresses of its own (link-local addresses are never observed);
- Open vSwitch bridges and internal ports follow ``ovs``;
- traffic control (host QoS) by the rules of ``tc``; a deleted link takes its tree.
Every successful ``apply`` is one write. ``fail_at = k`` makes the k-th write from then on raise
``KernelError`` without changing anything (one shot).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.memory import ovs as memory_ovs
from vdsm_net.backends.memory.tc import TcTable
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import Address, KernelState, Link, LinkKind, Route, Rule
from vdsm_net.model.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    CreateLink,
    DelAddress,
    DeleteLinks,
    DelRoute,
    DelRule,
    Op,
    SetBondOptions,
    SetBridge,
    SetMac,
    SetMaster,
    SetMtu,
    SetTag,
    SetUp,
    TcOp,
)

MAX_NAME = 15
LOOPBACK = "lo"  # every namespace has one; observed only as a hidden name, as on netlink
MIN_MTU = 68
MAX_MTU = 65535
CREATABLE: frozenset[str] = frozenset({"bond", "vlan", "bridge"}) | memory_ovs.OVS_KINDS


class MemoryKernel:
    def __init__(self, nics: Iterable[str] = (), nic_mtu: int = 1500) -> None:
        self._links: dict[str, Link] = {}
        self._addresses: set[Address] = set()
        self._routes: set[Route] = set()
        self._rules: set[Rule] = set()
        self._tc = TcTable()
        self._next_index = 1
        self.writes = 0
        self._fail_at: int | None = None
        self._attempts = 0
        self._mtu_before_bond: dict[str, int] = {}  # bond port -> its MTU when enslaved
        self._random_mac: set[str] = set()  # bonds whose MAC their first port will give
        for name in nics:
            self._check_name(name, "add_nic")
            mac = self._mac()
            self._add(Link(name, "nic", mtu=nic_mtu, mac=mac, perm_mac=mac))

    # -- fault injection ------------------------------------------------------------------

    @property
    def fail_at(self) -> int | None:
        return self._fail_at

    @fail_at.setter
    def fail_at(self, value: int | None) -> None:
        self._fail_at = value
        self._attempts = 0

    def clone(self) -> MemoryKernel:
        return copy.deepcopy(self)

    # -- the Backend port -----------------------------------------------------------------

    def observe(self, stats: bool = True) -> KernelState:  # no counters to leave out
        return KernelState(
            links=dict(self._links),
            addresses=frozenset(self._addresses),
            routes=frozenset(self._routes),
            rules=frozenset(self._rules),
            tc=self._tc.snapshot(),
            hidden=frozenset({LOOPBACK}),
        )

    def nic_facts(self, name: str) -> NicFacts:
        link = self._links.get(name)
        if link is None or link.kind != "nic":
            raise KernelError("nic_facts", f"no NIC {name}")
        return NicFacts(speed=1000 if link.up else 0, duplex="full", driver="memory")

    def apply(self, op: Op) -> None:
        if self._fail_at is not None:
            attempt = self._attempts
            self._attempts += 1
            if attempt == self._fail_at:
                self._fail_at = None
                raise KernelError(op.kind, f"injected fault at write {attempt}")
        handler = _HANDLERS.get(type(op))
        if isinstance(op, TcOp):
            self._tc.apply(op, op.obj.dev in self._links)
        elif handler is None:
            raise KernelError(op.kind, "unsupported op")
        else:
            handler(self, op)
        self.writes += 1

    # -- test helpers (no write counted, no fault injected) -------------------------------

    def add_foreign_link(
        self, name: str, kind: LinkKind = "other", master: str | None = None
    ) -> None:
        """An unowned link, up, e.g. a VM tap (optionally a port of ``master``)."""
        self._check_name(name, "add_foreign_link")
        if master is not None:
            self._need(master, "add_foreign_link")
        mac = self._mac()
        self._add(Link(name, kind, up=True, oper_up=True, master=master, mac=mac, perm_mac=mac))

    def add_address(self, address: Address) -> None:
        self._need(address.ifname, "add_address")
        self._addresses.add(address)

    def add_route(self, route: Route) -> None:
        self._need(route.oif, "add_route")
        self._routes.add(route)

    def add_rule(self, rule: Rule) -> None:
        self._rules.add(rule)

    # -- internals ------------------------------------------------------------------------

    def _mac(self) -> str:
        i = self._next_index
        return f"52:54:00:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"

    def _add(self, link: Link) -> None:
        self._links[link.name] = replace(link, index=self._next_index)
        self._next_index += 1

    def _check_name(self, name: str, op: str) -> None:
        if not name or len(name) > MAX_NAME or "/" in name or any(c.isspace() for c in name):
            raise KernelError(op, f"invalid link name {name!r}")
        if name in self._links or name == LOOPBACK:
            raise KernelError(op, f"link {name} exists")

    def _need(self, name: str, op: str) -> Link:
        link = self._links.get(name)
        if link is None:
            raise KernelError(op, f"no link {name}")
        return link

    def _set(self, name: str, **changes: object) -> None:
        self._links[name] = self._links[name].with_(**changes)

    def _drop_link(self, name: str) -> None:
        if name not in self._links:
            return
        del self._links[name]
        for other in [n for n, lk in self._links.items() if memory_ovs.dies_with(lk, name)]:
            self._drop_link(other)
        for port in [n for n, lk in self._links.items() if lk.master == name]:
            self._release(port)
        self._addresses = {a for a in self._addresses if a.ifname != name}
        self._routes = {r for r in self._routes if r.oif != name}
        self._tc.drop_dev(name)

    def _release(self, port: str) -> None:
        """The port leaves its master; a bond closes it and restores its MTU."""
        saved = self._mtu_before_bond.pop(port, None)
        if saved is None:
            self._set(port, master=None)
        else:
            self._set(port, master=None, up=False, oper_up=False, mtu=saved)

    def _route_key_taken(self, route: Route) -> bool:
        return any(r.table == route.table and r.dst == route.dst for r in self._routes)

    def _gateway_reachable(self, route: Route) -> bool:
        assert route.gateway is not None
        gw = ipaddress.ip_address(route.gateway)
        if gw.version == 6 and gw.is_link_local:
            return True
        for a in self._addresses:
            if a.ifname == route.oif and gw in ipaddress.ip_interface(a.address).network:
                return True
        return any(
            r.scope_link and r.oif == route.oif and r.table == route.table
            and gw in ipaddress.ip_network(r.dst)
            for r in self._routes
        )

    # -- op handlers ----------------------------------------------------------------------

    def _delete_links(self, op: DeleteLinks) -> None:
        for name in op.names:
            if self._need(name, op.kind).kind not in CREATABLE | {"other"}:
                raise KernelError(op.kind, f"cannot delete {name}: not a virtual link")
        for name in op.names:
            self._drop_link(name)

    def _create_link(self, op: CreateLink) -> None:
        link = op.link
        self._check_name(link.name, op.kind)
        if link.kind not in CREATABLE:
            raise KernelError(op.kind, f"cannot create a link of kind {link.kind} ({link.name})")
        _check_mtu(op.kind, link.name, link.mtu)
        if link.kind == "vlan":
            if link.vlan_base is None or link.vlan_id is None or not 0 <= link.vlan_id <= 4094:
                raise KernelError(op.kind, f"{link.name}: VLAN needs a base and an id 0-4094")
            base = self._need(link.vlan_base, op.kind)
            if link.mtu > base.mtu:
                raise KernelError(op.kind, f"{link.name}: MTU {link.mtu} > base MTU {base.mtu}")
            if any(
                lk.vlan_base == link.vlan_base and lk.vlan_id == link.vlan_id
                for lk in self._links.values()
            ):
                raise KernelError(op.kind, f"{link.name}: VLAN id {link.vlan_id} exists")
        if link.kind == "bond" and (not link.bond_options or link.bond_options[0][0] != "mode"):
            raise KernelError(op.kind, f"{link.name}: bond options must start with mode")
        master = memory_ovs.check_create(self._links, link, op.kind)
        if link.kind == "bond" and not link.mac:
            self._random_mac.add(link.name)
        mac = link.mac.lower() if link.mac else self._mac()
        self._add(link.with_(up=False, oper_up=False, master=master, mac=mac))

    def _set_master(self, op: SetMaster) -> None:
        port = self._need(op.name, op.kind)
        if op.master is None:
            if port.kind == "ovs-port":
                raise KernelError(op.kind, f"{op.name}: an internal port stays on its bridge")
            if port.master is not None:
                self._release(op.name)
            return
        master = self._need(op.master, op.kind)
        if op.master == op.name or master.kind not in ("bond", "bridge", "ovs-bridge"):
            raise KernelError(op.kind, f"{op.master} cannot be the master of {op.name}")
        memory_ovs.check_port(port, master, op.kind)
        if port.master is not None:
            raise KernelError(op.kind, f"{op.name} already has master {port.master}")
        if master.kind == "bond":
            if port.up:
                raise KernelError(op.kind, f"{op.name} must be down to be enslaved to {op.master}")
            if port.kind in ("bond", "bridge"):
                raise KernelError(op.kind, f"{op.name} ({port.kind}) cannot be a bond port")
            self._mtu_before_bond[op.name] = port.mtu
            if op.master in self._random_mac:
                self._random_mac.discard(op.master)
                self._set(op.master, mac=port.mac)
            self._set(op.name, master=op.master, mtu=master.mtu, up=True, oper_up=True)
        else:
            self._set(op.name, master=op.master)

    def _set_mtu(self, op: SetMtu) -> None:
        link = self._need(op.name, op.kind)
        _check_mtu(op.kind, op.name, op.mtu)
        if link.kind == "vlan" and link.vlan_base is not None:
            base = self._links[link.vlan_base]
            if op.mtu > base.mtu:
                raise KernelError(op.kind, f"{op.name}: MTU {op.mtu} > base MTU {base.mtu}")
        self._set(op.name, mtu=op.mtu)
        if link.kind == "bond":
            for port in [n for n, lk in self._links.items() if lk.master == op.name]:
                self._set(port, mtu=op.mtu)
        for vlan in [n for n, lk in self._links.items() if lk.vlan_base == op.name]:
            if self._links[vlan].mtu > op.mtu:
                self._set(vlan, mtu=op.mtu)

    def _set_up(self, op: SetUp) -> None:
        self._need(op.name, op.kind)
        self._set(op.name, up=op.up, oper_up=op.up)
        if not op.up:
            self._routes = {r for r in self._routes if r.oif != op.name}
            self._addresses = {
                a for a in self._addresses if a.ifname != op.name or a.family == 4
            }

    def _set_tag(self, op: SetTag) -> None:
        self._need(op.name, op.kind)
        self._set(op.name, tag=op.tag)

    def _set_mac(self, op: SetMac) -> None:
        self._need(op.name, op.kind)
        parts = op.mac.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and _is_hex(p) for p in parts):
            raise KernelError(op.kind, f"{op.name}: invalid MAC {op.mac!r}")
        self._set(op.name, mac=op.mac.lower())
        self._random_mac.discard(op.name)

    def _set_bond_options(self, op: SetBondOptions) -> None:
        link = self._need(op.name, op.kind)
        if link.kind != "bond":
            raise KernelError(op.kind, f"{op.name} is not a bond")
        if not op.options or op.options[0][0] != "mode":
            raise KernelError(op.kind, f"{op.name}: bond options must start with mode")
        mode_change = dict(op.options)["mode"] != dict(link.bond_options).get("mode")
        busy = link.up or any(lk.master == op.name for lk in self._links.values())
        if mode_change and busy:
            raise KernelError(op.kind, f"{op.name}: mode change needs the bond down, portless")
        self._set(op.name, bond_options=op.options)

    def _set_bridge(self, op: SetBridge) -> None:
        if self._need(op.name, op.kind).kind != "bridge":
            raise KernelError(op.kind, f"{op.name} is not a bridge")
        self._set(op.name, stp=op.stp, bridge_opts=op.bridge_opts)

    def _add_address(self, op: AddAddress) -> None:
        addr = op.address
        self._need(addr.ifname, op.kind)
        try:
            ipaddress.ip_interface(addr.address)
        except ValueError as exc:
            raise KernelError(op.kind, f"invalid address {addr.address}") from exc
        if addr in self._addresses:
            raise KernelError(op.kind, f"{addr.address} exists on {addr.ifname}")
        self._addresses.add(addr)

    def _del_address(self, op: DelAddress) -> None:
        addr = op.address
        if addr not in self._addresses:
            raise KernelError(op.kind, f"no address {addr.address} on {addr.ifname}")
        self._addresses.discard(addr)
        if addr.family == 4 and not any(
            a.ifname == addr.ifname and a.family == 4 for a in self._addresses
        ):
            self._routes = {r for r in self._routes if r.oif != addr.ifname or r.family == 6}

    def _add_route(self, op: AddRoute) -> None:
        route = op.route
        link = self._need(route.oif, op.kind)
        if not link.up:
            raise KernelError(op.kind, f"{route.dst} dev {route.oif}: network is down")
        if self._route_key_taken(route):
            raise KernelError(op.kind, f"{route.dst} table {route.table}: route exists")
        if route.gateway is not None and not self._gateway_reachable(route):
            raise KernelError(op.kind, f"gateway {route.gateway} unreachable on {route.oif}")
        self._routes.add(route)

    def _del_route(self, op: DelRoute) -> None:
        if op.route not in self._routes:
            raise KernelError(op.kind, f"no route {op.route.dst} table {op.route.table}")
        self._routes.discard(op.route)

    def _add_rule(self, op: AddRule) -> None:
        if op.rule in self._rules:
            raise KernelError(op.kind, f"rule {op.rule} exists")
        self._rules.add(op.rule)

    def _del_rule(self, op: DelRule) -> None:
        if op.rule not in self._rules:
            raise KernelError(op.kind, f"no rule {op.rule}")
        self._rules.discard(op.rule)


def _check_mtu(op: str, name: str, mtu: int) -> None:
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise KernelError(op, f"{name}: invalid MTU {mtu}")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


_HANDLERS: dict[type[Op], Callable[[MemoryKernel, Any], None]] = {
    DeleteLinks: MemoryKernel._delete_links,
    CreateLink: MemoryKernel._create_link,
    SetMaster: MemoryKernel._set_master,
    SetMtu: MemoryKernel._set_mtu,
    SetUp: MemoryKernel._set_up,
    SetTag: MemoryKernel._set_tag,
    SetMac: MemoryKernel._set_mac,
    SetBondOptions: MemoryKernel._set_bond_options,
    SetBridge: MemoryKernel._set_bridge,
    AddAddress: MemoryKernel._add_address,
    DelAddress: MemoryKernel._del_address,
    AddRoute: MemoryKernel._add_route,
    DelRoute: MemoryKernel._del_route,
    AddRule: MemoryKernel._add_rule,
    DelRule: MemoryKernel._del_rule,
}
