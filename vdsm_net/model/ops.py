"""Plan operations: plain, printable data. A backend's ``apply(op)`` executes exactly one.

Every op names the links it touches (``links``), so a revert plan can be limited to them, and
carries an optional ``reason`` (e.g. why a link is recreated) that shows up in the dry run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from vdsm_net.model.desired import Pairs
from vdsm_net.model.kernel import Address, Link, Route, Rule
from vdsm_net.model.tc import TcObject


@dataclass(frozen=True)
class Op:
    """One kernel write, as plain frozen data. ``kind`` names it on the wire and in the dry run
    (``to_dict``, ``describe``); ``links`` names the links it touches, the scope of a revert."""

    kind: ClassVar[str] = "op"

    @property
    def links(self) -> tuple[str, ...]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "reason" and not value:
                continue
            out[f.name] = _plain(value)
        return out

    def describe(self) -> str:
        body = " ".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "op")
        return f"{self.kind} {body}".rstrip()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare and getattr(value, f.name) not in (None, (), False)
        }
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class LinkOp(Op):
    """An op that changes one attribute of the link ``name``."""

    name: str

    @property
    def links(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True)
class DeleteLinks(Op):
    """Delete links in one bulk call where the backend can (e.g. by link group)."""

    kind: ClassVar[str] = "delete_links"
    names: tuple[str, ...]
    reason: str = ""

    @property
    def links(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True)
class CreateLink(Op):
    """Create a bond, VLAN or bridge with its kind attributes, MTU, tag and MAC; down, no master."""

    kind: ClassVar[str] = "create_link"
    link: Link
    reason: str = ""

    @property
    def links(self) -> tuple[str, ...]:
        return (self.link.name,)


@dataclass(frozen=True)
class SetMaster(LinkOp):
    kind: ClassVar[str] = "set_master"
    master: str | None = None  # None = release from its master
    reason: str = ""


@dataclass(frozen=True)
class SetMtu(LinkOp):
    kind: ClassVar[str] = "set_mtu"
    mtu: int = 1500
    reason: str = ""


@dataclass(frozen=True)
class SetUp(LinkOp):
    kind: ClassVar[str] = "set_up"
    up: bool = True
    reason: str = ""


@dataclass(frozen=True)
class SetTag(LinkOp):
    kind: ClassVar[str] = "set_tag"
    tag: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class SetMac(LinkOp):
    kind: ClassVar[str] = "set_mac"
    mac: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SetBondOptions(LinkOp):
    """Set bond options. A mode change needs the bond down and without ports first."""

    kind: ClassVar[str] = "set_bond_options"
    options: Pairs = ()
    reason: str = ""


@dataclass(frozen=True)
class SetBridge(LinkOp):
    """Set a bridge's STP state and its explicit options (``custom.bridge_opts``)."""

    kind: ClassVar[str] = "set_bridge"
    stp: bool = False
    bridge_opts: Pairs = ()
    reason: str = ""


@dataclass(frozen=True)
class AddressOp(Op):
    """An op on one address: ``AddAddress`` or ``DelAddress``."""

    address: Address

    @property
    def links(self) -> tuple[str, ...]:
        return (self.address.ifname,)


@dataclass(frozen=True)
class AddAddress(AddressOp):
    kind: ClassVar[str] = "add_address"


@dataclass(frozen=True)
class DelAddress(AddressOp):
    kind: ClassVar[str] = "del_address"


@dataclass(frozen=True)
class RouteOp(Op):
    """An op on one route: ``AddRoute`` or ``DelRoute``."""

    route: Route

    @property
    def links(self) -> tuple[str, ...]:
        return (self.route.oif,)


@dataclass(frozen=True)
class AddRoute(RouteOp):
    kind: ClassVar[str] = "add_route"


@dataclass(frozen=True)
class DelRoute(RouteOp):
    kind: ClassVar[str] = "del_route"


@dataclass(frozen=True)
class RuleOp(Op):
    """An op on one policy-routing rule: ``AddRule`` or ``DelRule``."""

    rule: Rule

    @property
    def links(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class AddRule(RuleOp):
    kind: ClassVar[str] = "add_rule"


@dataclass(frozen=True)
class DelRule(RuleOp):
    kind: ClassVar[str] = "del_rule"


@dataclass(frozen=True)
class TcOp(Op):
    """An op on one traffic-control object (``model.tc``) of the device ``obj.dev``."""

    obj: TcObject
    reason: str = ""

    @property
    def links(self) -> tuple[str, ...]:
        return (self.obj.dev,)

    def describe(self) -> str:
        why = f" reason={self.reason}" if self.reason else ""
        return f"{self.kind} {self.obj.describe()}{why}"


@dataclass(frozen=True)
class AddTc(TcOp):
    kind: ClassVar[str] = "add_tc"


@dataclass(frozen=True)
class ChangeTc(TcOp):
    """Change a class's curves in place (the kernel keeps a curve a change leaves out, so a
    change may only add or alter curves; dropping one recreates the class)."""

    kind: ClassVar[str] = "change_tc"


@dataclass(frozen=True)
class DelTc(TcOp):
    """Delete one object: a qdisc takes its classes, leaves and filters with it, a class its
    leaf; a class that a filter still points at cannot be deleted."""

    kind: ClassVar[str] = "del_tc"


def plan_to_json(plan: list[Op]) -> list[dict[str, Any]]:
    return [op.to_dict() for op in plan]
