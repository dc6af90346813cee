"""Traffic-control objects as kernel values: the HFSC tree of host QoS (vdsm-wire §3.1 hostQos).

vdsm's layout, which the engine's reports expect: on the southbound NIC or bond a root qdisc
``hfsc`` with handle ``1389:`` and default class ``1388``; one class per network, ``1389:<vlan id
in hex>`` (``1389:1388`` for the untagged one), each with an ``fq_codel`` leaf whose handle is the
class's minor; a ``basic`` filter ``meta(vlan eq N)`` per VLAN network (preference N) and a
catch-all ``u32`` filter (preference 5000) into the default class.

Rates are what ``tc`` prints, in bit/s (the kernel holds bytes/s: the netlink codec divides by 8
and multiplies back), ``d`` in microseconds. Only objects under our handle are observed: a device
without them is simply absent from ``KernelState.tc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vdsm_net.model.desired import Curve

ROOT_MAJOR = 0x1389  # 5001: vdsm's root handle, 0 left free for a leaf of VLAN 0
DEFAULT_MINOR = 0x1388  # 5000: the untagged network's class and the default class
DEFAULT_PREF = DEFAULT_MINOR  # the catch-all u32 filter's preference
TC_H_ROOT = 0xFFFFFFFF


def classid(minor: int) -> int:
    return (ROOT_MAJOR << 16) | minor


def show_handle(handle: int) -> str:
    """``tc``'s notation: ``1389:``, ``1389:a``, ``root``."""
    if handle == TC_H_ROOT:
        return "root"
    major, minor = handle >> 16, handle & 0xFFFF
    return f"{major:x}:" if not minor else f"{major:x}:{minor:x}"


@dataclass(frozen=True, order=True)
class Qdisc:
    """A qdisc of ours: the root ``hfsc`` (parent TC_H_ROOT) or a class's ``fq_codel`` leaf."""

    dev: str
    handle: int  # major << 16
    parent: int = TC_H_ROOT
    kind: str = "hfsc"
    default: int = 0  # hfsc: the default class's minor

    kind_name: ClassVar[str] = "qdisc"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.dev, "qdisc", self.handle)

    def describe(self) -> str:
        extra = f" default {self.default:x}" if self.kind == "hfsc" else ""
        return (f"qdisc {self.kind} {show_handle(self.handle)} parent {show_handle(self.parent)}"
                f"{extra} dev {self.dev}")


@dataclass(frozen=True, order=True)
class TcClass:
    """An HFSC class under the root: link-share, upper-limit and real-time curves."""

    dev: str
    minor: int
    ls: Curve | None = None
    ul: Curve | None = None
    rt: Curve | None = None

    kind_name: ClassVar[str] = "class"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.dev, "class", self.minor)

    @property
    def curves(self) -> dict[str, Curve]:
        return {k: v for k, v in (("ls", self.ls), ("ul", self.ul), ("rt", self.rt)) if v}

    def describe(self) -> str:
        curves = " ".join(f"{k} {v.describe()}" for k, v in self.curves.items())
        return f"class hfsc {show_handle(classid(self.minor))} {curves} dev {self.dev}"


@dataclass(frozen=True, order=True)
class TcFilter:
    """A filter on the root qdisc into the class ``minor``: ``basic meta(vlan eq N)`` when
    ``vlan`` is set, else a catch-all ``u32`` (``match u32 0 0``); protocol all."""

    dev: str
    pref: int
    minor: int
    vlan: int | None = None

    kind_name: ClassVar[str] = "filter"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.dev, "filter", self.pref)

    @property
    def kind(self) -> str:
        return "u32" if self.vlan is None else "basic"

    def describe(self) -> str:
        match = "match u32 0 0" if self.vlan is None else f"match 'meta(vlan eq {self.vlan})'"
        return (f"filter {self.kind} pref {self.pref} {match} flowid "
                f"{show_handle(classid(self.minor))} dev {self.dev}")


TcObject = Qdisc | TcClass | TcFilter


def by_key(objects: frozenset[TcObject], devs: set[str] | None = None) -> dict[
        tuple[str, str, int], TcObject]:
    return {o.key: o for o in objects if devs is None or o.dev in devs}
