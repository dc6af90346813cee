"""The backend port on the real kernel, through pyroute2 0.9 (rtnetlink) and, for bond options and
NIC facts, sysfs as seen from the target namespace.

Every pyroute2 call runs in one worker thread (``NetlinkWorker``); the public methods block on it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from vdsm_net import linkopts
from vdsm_net import ops as o
from vdsm_net.backends import netlink_observe as obs
from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.netlink_bondopts import read_bond_options, write_bond_options
from vdsm_net.backends.netlink_worker import NetlinkWorker
from vdsm_net.errors import KernelError
from vdsm_net.kernel import KernelState, Link, Route, Rule
from vdsm_net.nicfacts import read_nic_facts

RTPROT_STATIC = 4
FIRST_DELETE_GROUP = 0x7E000000  # link groups we borrow for bulk deletes


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        return os.strerror(exc.code) if exc.code else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return str(exc)


def _family(cidr: str) -> int:
    return int(socket.AF_INET6 if ":" in cidr else socket.AF_INET)


class NetlinkBackend:
    """``Backend`` on the running kernel, in the current namespace or the named one."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._worker = NetlinkWorker(netns)
        self.writes = 0

    # ---- observation -------------------------------------------------------------------------

    def observe(self) -> KernelState:
        sysfs = self._worker.sysfs_root()

        def dump(ipr: Any) -> KernelState:
            link_msgs = list(ipr.get_links())
            names = {m["index"]: m.get("IFLA_IFNAME") for m in link_msgs}
            addr_msgs = list(ipr.get_addr())
            route_msgs = list(ipr.get_routes(family=255))
            rule_msgs = list(ipr.get_rules())
            links = obs.parse_links(link_msgs, lambda bond: read_bond_options(sysfs, bond), sysfs)
            return KernelState(
                links=links,
                addresses=obs.parse_addresses(addr_msgs, names),
                routes=obs.parse_routes(route_msgs, names),
                rules=obs.parse_rules(rule_msgs),
            )

        return self._worker.call(dump)

    def nic_facts(self, name: str) -> NicFacts:
        return read_nic_facts(name, self._worker.sysfs_root())

    def close(self) -> None:
        self._worker.close()

    # ---- apply -------------------------------------------------------------------------------

    def apply(self, op: o.Op) -> None:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise KernelError(op.kind, f"unsupported op {op.describe()}")
        try:
            self._worker.call(lambda ipr: handler(self, ipr, op))
        except KernelError:
            raise
        except (NetlinkError, OSError) as exc:
            raise KernelError(op.kind, f"{_subject(op)}: {_strerror(exc)}") from exc
        self.writes += 1

    def _index(self, ipr: Any, op: o.Op, name: str) -> int:
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise KernelError(op.kind, f"{_subject(op)}: no such link {name}")
        return int(found[0])

    def _create(self, ipr: Any, op: o.CreateLink) -> None:
        link = op.link
        spec: dict[str, Any] = {"ifname": link.name, "mtu": link.mtu}
        if link.mac:
            spec["address"] = link.mac
        if link.kind == "bond":
            spec.update(kind="bond", bond_mode=int(linkopts.mode_number(_mode(link))))
        elif link.kind == "vlan":
            if link.vlan_base is None or link.vlan_id is None:
                raise KernelError(op.kind, f"{link.name}: a VLAN needs its base and id")
            base = self._index(ipr, op, link.vlan_base)
            spec.update(kind="vlan", link=base, vlan_id=link.vlan_id)
        elif link.kind == "bridge":
            spec.update(kind="bridge", **_bridge_attrs(link.stp, link.bridge_opts))
        else:
            raise KernelError(op.kind, f"{link.name}: cannot create a link of kind {link.kind}")
        ipr.link("add", **spec)
        try:
            index = self._index(ipr, op, link.name)
            if link.tag:
                ipr.link("set", index=index, ifalias=link.tag)
            if link.kind == "bond" and link.bond_options[1:]:
                write_bond_options(self._sysfs(), link.name, link.bond_options)
            if link.kind == "bridge":
                _bridge_sysfs_opts(self._sysfs(), link.name, link.bridge_opts)
        except Exception:
            ipr.link("del", ifname=link.name)  # all or nothing
            raise

    def _sysfs(self) -> Path:
        # called from inside the worker thread: no second hop through the queue
        if self.netns is None:
            return Path("/sys/class/net")
        return self._worker._private_sysfs() / "class" / "net"

    def _set_master(self, ipr: Any, op: o.SetMaster) -> None:
        index = self._index(ipr, op, op.name)
        if op.master is None:
            ipr.link("set", index=index, master=0)
            return
        master = self._index(ipr, op, op.master)
        (msg,) = ipr.get_links(master)
        kind, _data, _slave = obs._linkinfo(msg)
        (port,) = ipr.get_links(index)
        if kind == "bond" and port["flags"] & obs.IFF_UP:
            ipr.link("set", index=index, state="down")  # the kernel refuses an UP bond port
            try:
                ipr.link("set", index=index, master=master)
            except NetlinkError:
                ipr.link("set", index=index, state="up")
                raise
            return
        ipr.link("set", index=index, master=master)

    def _set_bridge(self, ipr: Any, op: o.SetBridge) -> None:
        index = self._index(ipr, op, op.name)
        (msg,) = ipr.get_links(index)
        _kind, data, _slave = obs._linkinfo(msg)
        sysfs = self._sysfs()

        def read(option: str) -> str | None:
            try:
                return str((sysfs / op.name / "bridge" / option).read_text().strip())
            except OSError:
                return None

        _stp, current = obs.bridge_options(data, read)
        wanted = dict(op.bridge_opts)
        reset = {k: linkopts.BRIDGE_DEFAULTS[k] for k, _ in current if k not in wanted}
        opts = tuple(sorted({**reset, **wanted}.items()))
        ipr.link("set", index=index, kind="bridge", **_bridge_attrs(op.stp, opts))
        _bridge_sysfs_opts(sysfs, op.name, opts)

    def _delete(self, ipr: Any, op: o.DeleteLinks) -> None:
        msgs = list(ipr.get_links())
        by_name = {m.get("IFLA_IFNAME"): m for m in msgs}
        missing = [n for n in op.names if n not in by_name]
        if missing:
            raise KernelError(op.kind, f"{' '.join(op.names)}: no such link {' '.join(missing)}")
        used = {m.get("IFLA_GROUP") for m in msgs}
        group = FIRST_DELETE_GROUP
        while group in used:
            group += 1
        moved: list[tuple[int, int]] = []
        try:
            for name in op.names:
                m = by_name[name]
                ipr.link("set", index=m["index"], group=group)
                moved.append((m["index"], m.get("IFLA_GROUP") or 0))
            ipr.link("del", group=group)
        except NetlinkError:
            for index, old in moved:
                try:
                    ipr.link("set", index=index, group=old)
                except NetlinkError as exc:
                    if exc.code != errno.ENODEV:
                        raise
            raise

    def _route(self, ipr: Any, command: str, route: Route) -> None:
        spec: dict[str, Any] = {
            "dst": route.dst,
            "oif": self._index(ipr, o.AddRoute(route), route.oif),
            "table": route.table,
            "family": _family(route.dst),
            "proto": RTPROT_STATIC,
        }
        if route.gateway:
            spec["gateway"] = route.gateway
        if route.scope_link and route.family == 4:
            spec["scope"] = obs.RT_SCOPE_LINK
        ipr.route(command, **spec)

    def _rule(self, ipr: Any, command: str, rule: Rule) -> None:
        spec: dict[str, Any] = {"priority": rule.priority, "table": rule.table}
        family: int = socket.AF_INET
        for key, cidr in (("src", rule.src), ("dst", rule.dst)):
            if cidr is not None:
                net = ipaddress.ip_network(cidr, strict=False)
                family = _family(cidr)
                spec[key] = str(net.network_address)
                spec[f"{key}_len"] = net.prefixlen
        ipr.rule(command, family=family, **spec)

    def _address(self, ipr: Any, command: str, op: o.AddAddress) -> None:
        iface = ipaddress.ip_interface(op.address.address)
        index = self._index(ipr, op, op.address.ifname)
        ipr.addr(command, index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)


def _mode(link: Link) -> str:
    return dict(link.bond_options).get("mode", "0")


def _bridge_attrs(stp: bool, opts: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"br_stp_state": 1 if stp else 0}
    for option, value in opts:
        attr = obs.BRIDGE_ATTRS.get(option)
        if attr is None:
            continue
        attrs[attr[len("IFLA_") :].lower()] = value if option == "group_addr" else int(value)
    return attrs


def _bridge_sysfs_opts(sysfs: Any, bridge: str, opts: tuple[tuple[str, str], ...]) -> None:
    for option, value in opts:
        if option in obs.SYSFS_ONLY_BRIDGE_OPTS:
            (sysfs / bridge / "bridge" / option).write_text(value)


def _subject(op: o.Op) -> str:
    """The object an op acts on, as the error names it: 'eth1 -> bond0', '10.0.0.1/24 on br0'."""
    if isinstance(op, o.SetMaster):
        return f"{op.name} -> {op.master}" if op.master else f"{op.name} -> nomaster"
    if isinstance(op, o.CreateLink):
        return op.link.name
    if isinstance(op, o.DeleteLinks):
        return " ".join(op.names)
    if isinstance(op, o.AddAddress):
        return f"{op.address.address} on {op.address.ifname}"
    if isinstance(op, o.AddRoute):
        via = f" via {op.route.gateway}" if op.route.gateway else ""
        return f"{op.route.dst}{via} dev {op.route.oif} table {op.route.table}"
    if isinstance(op, o.AddRule):
        r = op.rule
        return f"priority {r.priority} from {r.src or 'all'} to {r.dst or 'all'} table {r.table}"
    if isinstance(op, o._OnLink):
        return op.name
    return op.describe()


def _on_link(build: Callable[[o.Op], dict[str, Any]]) -> Callable[..., None]:
    def run(backend: NetlinkBackend, ipr: Any, op: o._OnLink) -> None:
        ipr.link("set", index=backend._index(ipr, op, op.name), **build(op))

    return run


_HANDLERS: dict[type, Callable[..., None]] = {
    o.CreateLink: NetlinkBackend._create,
    o.DeleteLinks: NetlinkBackend._delete,
    o.SetMaster: NetlinkBackend._set_master,
    o.SetBridge: NetlinkBackend._set_bridge,
    o.SetMtu: _on_link(lambda op: {"mtu": op.mtu}),  # type: ignore[attr-defined]
    o.SetUp: _on_link(lambda op: {"state": "up" if op.up else "down"}),  # type: ignore[attr-defined]
    o.SetTag: _on_link(lambda op: {"ifalias": op.tag or ""}),  # type: ignore[attr-defined]
    o.SetMac: _on_link(lambda op: {"address": op.mac}),  # type: ignore[attr-defined]
    o.SetBondOptions: lambda b, ipr, op: write_bond_options(b._sysfs(), op.name, op.options),
    o.AddAddress: lambda b, ipr, op: b._address(ipr, "add", op),
    o.DelAddress: lambda b, ipr, op: b._address(ipr, "del", op),
    o.AddRoute: lambda b, ipr, op: b._route(ipr, "add", op.route),
    o.DelRoute: lambda b, ipr, op: b._route(ipr, "del", op.route),
    o.AddRule: lambda b, ipr, op: b._rule(ipr, "add", op.rule),
    o.DelRule: lambda b, ipr, op: b._rule(ipr, "del", op.rule),
}
