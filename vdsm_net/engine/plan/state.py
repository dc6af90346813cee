"""The planner's view of the links while a plan is being built.

Each emitted op is recorded and its effect on the links is projected, so later steps emit only
what is still needed. Where the kernel's effect is uncertain the projection is pessimistic
(a port enslaved to a bond is taken to be down), so the plan says explicitly what it wants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from vdsm_net.model.kernel import Link
from vdsm_net.model.ops import (
    CreateLink,
    DeleteLinks,
    Op,
    SetBondOptions,
    SetBridge,
    SetMac,
    SetMaster,
    SetMtu,
    SetTag,
    SetUp,
)


def evolve(link: Link, **changes: object) -> Link:
    """``link.with_(**changes)`` without ``dataclasses.replace``'s cost: the planner's hot path."""
    new = object.__new__(Link)
    new.__dict__.update(link.__dict__)
    new.__dict__.update(changes)
    return new


class LinkProjection:
    def __init__(self, links: Mapping[str, Link]) -> None:
        self.links: dict[str, Link] = dict(links)
        self.ops: list[Op] = []

    def get(self, name: str) -> Link | None:
        return self.links.get(name)

    def extend(self, ops: Iterable[Op]) -> None:
        for op in ops:
            self.emit(op)

    def emit(self, op: Op) -> None:
        self.ops.append(op)
        self._project(op)

    def _set(self, name: str, **changes: object) -> None:
        if name in self.links:
            self.links[name] = evolve(self.links[name], **changes)

    def _drop(self, names: Iterable[str]) -> None:
        """Delete links: VLANs on a deleted base go too, ports of a deleted master are released.
        One pass over the links per level of VLANs, not one per deleted link."""
        gone: dict[str, Link] = {}
        todo = list(names)
        while todo:
            level = {n: self.links.pop(n) for n in todo if n in self.links}
            gone.update(level)
            todo = [n for n, link in self.links.items() if link.vlan_base in level
                    or (link.kind == "ovs-port" and link.master in level)]
        for other, link in list(self.links.items()):
            if link.master in gone:
                self._release(other, gone[link.master])

    def _release(self, name: str, master: Link | None) -> None:
        """``name`` leaves its master. The bonding driver closes a port it releases and gives
        it back its MTU from before the bond, which the projection does not know: unknown (0)."""
        if master is not None and master.kind == "bond":
            self._set(name, master=None, up=False, mtu=0)
        else:
            self._set(name, master=None)

    def _project(self, op: Op) -> None:
        handler = _PROJECT.get(type(op))
        if handler is not None:
            handler(self, op)

    def _delete(self, op: DeleteLinks) -> None:
        self._drop(op.names)

    def _create(self, op: CreateLink) -> None:
        link = op.link
        master = link.master if link.kind == "ovs-port" else None  # born on its bridge
        if link.up or link.master != master:
            link = evolve(link, up=False, master=master)
        self.links[link.name] = link

    def _master(self, op: SetMaster) -> None:
        if op.master is None:
            cur = self.links.get(op.name)
            if cur is not None and cur.master is not None:
                self._release(op.name, self.links.get(cur.master))
            return
        master = self.links.get(op.master)
        if master is not None and master.kind == "bond":
            self._set(op.name, master=op.master, mtu=master.mtu, up=False)
        else:
            self._set(op.name, master=op.master)

    def _mtu(self, op: SetMtu) -> None:
        self._set_mtu(op.name, op.mtu)

    def _set_mtu(self, name: str, mtu: int) -> None:
        link = self.links.get(name)
        if link is None:
            return
        self._set(name, mtu=mtu)
        for other, lk in list(self.links.items()):
            if (link.kind == "bond" and lk.master == name) or (
                lk.vlan_base == name and lk.mtu > mtu
            ):
                self._set(other, mtu=mtu)


_PROJECT: dict[type[Op], Callable[[LinkProjection, Any], None]] = {
    DeleteLinks: LinkProjection._delete,
    CreateLink: LinkProjection._create,
    SetMaster: LinkProjection._master,
    SetMtu: LinkProjection._mtu,
    SetUp: lambda p, op: p._set(op.name, up=op.up),
    SetTag: lambda p, op: p._set(op.name, tag=op.tag),
    SetMac: lambda p, op: p._set(op.name, mac=op.mac),
    SetBondOptions: lambda p, op: p._set(op.name, bond_options=op.options),
    SetBridge: lambda p, op: p._set(op.name, stp=op.stp, bridge_opts=op.bridge_opts),
}
