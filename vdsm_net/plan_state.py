"""The planner's view of the links while a plan is being built.

Each emitted op is recorded and its effect on the links is projected, so later steps emit only
what is still needed. Where the kernel's effect is uncertain the projection is pessimistic
(a port enslaved to a bond is taken to be down), so the plan says explicitly what it wants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vdsm_net.kernel import Link
from vdsm_net.ops import (
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
            self.links[name] = self.links[name].with_(**changes)

    def _drop(self, name: str) -> None:
        if self.links.pop(name, None) is None:
            return
        for other, link in list(self.links.items()):
            if link.vlan_base == name:
                self._drop(other)
            elif link.master == name:
                self._set(other, master=None)

    def _project(self, op: Op) -> None:
        if isinstance(op, DeleteLinks):
            for name in op.names:
                self._drop(name)
        elif isinstance(op, CreateLink):
            self.links[op.link.name] = op.link.with_(up=False, master=None)
        elif isinstance(op, SetMaster):
            master = self.links.get(op.master) if op.master else None
            if master is not None and master.kind == "bond":
                self._set(op.name, master=op.master, mtu=master.mtu, up=False)
            else:
                self._set(op.name, master=op.master)
        elif isinstance(op, SetMtu):
            self._set_mtu(op.name, op.mtu)
        elif isinstance(op, SetUp):
            self._set(op.name, up=op.up)
        elif isinstance(op, SetTag):
            self._set(op.name, tag=op.tag)
        elif isinstance(op, SetMac):
            self._set(op.name, mac=op.mac)
        elif isinstance(op, SetBondOptions):
            self._set(op.name, bond_options=op.options)
        elif isinstance(op, SetBridge):
            self._set(op.name, stp=op.stp, bridge_opts=op.bridge_opts)

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
