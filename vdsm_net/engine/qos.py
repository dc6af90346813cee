"""Host QoS (``hostQos``) as vdsm applies it: tc HFSC on the southbound NIC or bond.

- ``parse_host_qos``: the engine's ``{"out": {"ls": {m1, d, m2}, "ul": .., "rt": ..}}`` into a
  ``HostQos`` (canonicalization; a bad shape is 21);
- ``check_host_qos``: the rules vdsm enforces before any write (21): a link share whenever
  anything is set, ``ul >= rt``, and on one device every network with QoS or none;
- ``render_tc``: the kernel objects of ``model.tc`` for a running config (the link share is
  scaled by 8, the rates rounded down to whole bytes per second, what the kernel can hold);
- ``report``/``device_report``/``adopted_qos``: the kernel's classes back into vdsm's
  ``hostQos`` shape (the share divided by 8) for the caps and for restart adoption.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NotRequired, TypedDict

from vdsm_net.model.desired import Curve, HostQos, Network, RunningConfig
from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError
from vdsm_net.model.tc import (
    DEFAULT_MINOR,
    DEFAULT_PREF,
    ROOT_MAJOR,
    Qdisc,
    TcClass,
    TcFilter,
    TcObject,
    classid,
)

CURVES = ("ls", "ul", "rt")
CURVE_KEYS = ("m1", "d", "m2")
LS_SCALE = 8  # vdsm: a link share is set as share * 8 and reported divided by 8
MAX_BYTES_RATE = 0xFFFFFFFF  # the kernel's tc_service_curve holds bytes/s in a u32
MAX_RATE = MAX_BYTES_RATE * 8


class CurveReport(TypedDict):
    m1: int
    d: int
    m2: int


class QosOutReport(TypedDict):
    ls: CurveReport
    ul: NotRequired[CurveReport]
    rt: NotRequired[CurveReport]


class HostQosReport(TypedDict):
    """``hostQos`` as caps report it (part of the verbs' schema, ``verbs.shapes``)."""

    out: QosOutReport


class DeviceQosReport(TypedDict):
    """One entry of ``nics|bondings[dev].qos``."""

    hostQos: HostQosReport
    vlan: int


def _fail(name: str, message: str) -> NetworkError:
    return NetworkError(ERR_BAD_PARAMS, f"Network {name}: hostQos: {message}")


def _number(name: str, where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(name, f"{where} must be an integer, not {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, f"{where} must be an integer, not {value!r}") from None
    if not 0 <= number <= MAX_RATE:
        raise _fail(name, f"{where} {number} is out of range 0..{MAX_RATE}")
    return number


def _curve(name: str, key: str, value: object) -> Curve:
    if not isinstance(value, Mapping):
        raise _fail(name, f"{key} must be an object with m2 (and m1, d)")
    unknown = sorted(str(k) for k in value if k not in CURVE_KEYS)
    if unknown:
        raise _fail(name, f"{key}: unknown keys {', '.join(unknown)}")
    if "m2" not in value:
        raise _fail(name, f"{key} needs m2")
    return Curve(*(_number(name, f"{key}.{k}", value.get(k, 0)) for k in CURVE_KEYS))


def parse_host_qos(name: str, value: object) -> HostQos | None:
    """The canonical form of a network's ``hostQos``; None when absent or nothing is set."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"out"}:
        raise _fail(name, "must be {'out': {'ls': .., 'ul': .., 'rt': ..}}")
    out = value.get("out") or {}
    if not isinstance(out, Mapping):
        raise _fail(name, "out must be an object")
    unknown = sorted(str(k) for k in out if k not in CURVES)
    if unknown:
        raise _fail(name, f"unknown curves {', '.join(unknown)}")
    curves = {k: _curve(name, k, out[k]) for k in CURVES if out.get(k) is not None}
    return HostQos(**curves) if curves else None


def check_host_qos(desired: RunningConfig) -> None:
    """vdsm's QoS rules over the desired config (21, before anything is written)."""
    by_base: dict[str, list[Network]] = {}
    for name in sorted(desired.networks):
        net = desired.networks[name]
        qos = net.host_qos
        if net.base is not None:
            by_base.setdefault(net.base, []).append(net)
        if qos is None:
            continue
        if net.base is None:
            raise _fail(name, "needs a nic or a bonding to shape")
        if qos.ls is None or qos.ls.m2 <= 0:
            raise _fail(name, "a link share (ls with m2 > 0) is required when QoS is set")
        if qos.ul is not None and qos.rt is not None and qos.ul.m2 < qos.rt.m2:
            raise _fail(name, f"the upper limit {qos.ul.m2} is below the real time "
                              f"{qos.rt.m2} (ul must be >= rt)")
        if net.vlan == 0:
            raise _fail(name, "host QoS on VLAN 0 is not supported")
    for base, nets in sorted(by_base.items()):
        with_qos = [n.name for n in nets if n.host_qos is not None]
        if with_qos and len(with_qos) != len(nets):
            without = [n.name for n in nets if n.host_qos is None]
            raise NetworkError(
                ERR_BAD_PARAMS,
                f"Device {base}: either every network on it has hostQos or none does "
                f"(with: {', '.join(with_qos)}; without: {', '.join(without)})",
            )


def _kernel_curve(curve: Curve | None, scale: int) -> Curve | None:
    """A curve as tc sets it: the share scaled, rates rounded down to whole bytes/s."""
    if curve is None:
        return None
    return Curve(_bytes(curve.m1 * scale), curve.d, _bytes(curve.m2 * scale))


def _bytes(bits: int) -> int:
    return min(bits - bits % 8, MAX_RATE - MAX_RATE % 8)


def minor_of(net: Network) -> int:
    return DEFAULT_MINOR if net.vlan is None else net.vlan


def render_tc(networks: Iterable[Network]) -> frozenset[TcObject]:
    """The HFSC tree of every base device that carries QoS networks."""
    by_base: dict[str, list[Network]] = {}
    for net in networks:
        if net.host_qos is not None and net.base is not None:
            by_base.setdefault(net.base, []).append(net)
    out: set[TcObject] = set()
    for base, nets in by_base.items():
        out.add(Qdisc(base, ROOT_MAJOR << 16, default=DEFAULT_MINOR))
        classes = []
        for net in nets:
            qos = net.host_qos
            assert qos is not None
            classes.append(TcClass(base, minor_of(net), _kernel_curve(qos.ls, LS_SCALE),
                                   _kernel_curve(qos.ul, 1), _kernel_curve(qos.rt, 1)))
            if net.vlan is not None:
                out.add(TcFilter(base, net.vlan, net.vlan, net.vlan))
        if all(c.minor != DEFAULT_MINOR for c in classes):  # the default class, implicit
            share = max(c.ls.m2 for c in classes if c.ls is not None)
            classes.append(TcClass(base, DEFAULT_MINOR, ls=Curve(m2=share)))
        out.update(classes)
        out.update(Qdisc(base, c.minor << 16, classid(c.minor), "fq_codel") for c in classes)
        out.add(TcFilter(base, DEFAULT_PREF, DEFAULT_MINOR))
    return frozenset(out)


def _wire_curve(curve: Curve, scale: int) -> CurveReport:
    return {"m1": curve.m1 // scale, "d": curve.d, "m2": curve.m2 // scale}


def _reported(cls: TcClass | None) -> HostQosReport | None:
    """None for no class, or one without a link share (which vdsm's hostQos always has)."""
    if cls is None or cls.ls is None:
        return None
    out: QosOutReport = {"ls": _wire_curve(cls.ls, LS_SCALE)}
    if cls.ul is not None:
        out["ul"] = _wire_curve(cls.ul, 1)
    if cls.rt is not None:
        out["rt"] = _wire_curve(cls.rt, 1)
    return {"out": out}


def _classes(tc: Iterable[TcObject]) -> dict[tuple[str, int], TcClass]:
    return {(o.dev, o.minor): o for o in tc if isinstance(o, TcClass)}


def report(net: Network, tc: Iterable[TcObject]) -> HostQosReport | None:
    """A network's ``hostQos`` as the kernel holds it (vdsm reports tc's classes), or None."""
    if net.base is None or net.host_qos is None:
        return None
    return _reported(_classes(tc).get((net.base, minor_of(net))))


def device_report(
    networks: Iterable[Network], tc: Iterable[TcObject]
) -> dict[str, list[DeviceQosReport]]:
    """``nics|bondings[dev].qos``: ``[{hostQos, vlan}]`` per device with QoS networks
    (``vlan`` -1 when untagged), in VLAN order."""
    classes = _classes(tc)
    out: dict[str, list[tuple[int, DeviceQosReport]]] = {}
    for net in networks:
        reported = _reported(classes.get((net.base, minor_of(net)))) if net.base else None
        if reported is None or net.base is None or net.host_qos is None:
            continue
        vlan = -1 if net.vlan is None else net.vlan
        out.setdefault(net.base, []).append((vlan, {"hostQos": reported, "vlan": vlan}))
    return {dev: [e for _v, e in sorted(items, key=lambda i: i[0])] for dev, items in out.items()}


def adopted_qos(net: Network, tc: Iterable[TcObject]) -> HostQos | None:
    """After a restart: the QoS of a network from its class in the kernel. On a device with
    QoS every network has some (``check_host_qos``), so an untagged network's ``1389:1388`` is
    its own and not the implicit default class."""
    cls = _classes(tc).get((net.base, minor_of(net))) if net.base else None
    if cls is None:
        return None
    scaled = {k: Curve(c.m1 // LS_SCALE, c.d, c.m2 // LS_SCALE) if k == "ls" else c
              for k, c in cls.curves.items()}
    return HostQos(**scaled)
