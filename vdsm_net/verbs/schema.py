"""The verbs' result shapes: vdsm-wire's type conventions (§3.4, §3.6, §6) as one schema.

``RESULTS`` names the shape of each verb's reply; the tests hold every reply to it, and the
client's help and the docs read it.

A spec is one of:
- a Python type: ``isinstance`` (an ``int`` spec never accepts a bool);
- ``[spec]``: a list whose items all match;
- ``Shape({...}, open=False)``: a dict with exactly these keys (``Opt`` marks optional ones;
  ``open=True`` tolerates extra keys);
- ``MapOf(spec)``: a dict of str -> spec;
- a ``Check``: a named predicate (numeric strings, "on"/"off", ...).
``check(value, spec)`` raises ``Mismatch`` naming the path of the first mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Mismatch(AssertionError):
    """A value that does not have its schema's shape (an AssertionError, so a test reads it as
    a failed assertion)."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: Callable[[Any], bool]


@dataclass(frozen=True)
class Opt:
    spec: Any


@dataclass(frozen=True)
class Shape:
    fields: Mapping[str, Any]
    open: bool = False


@dataclass(frozen=True)
class MapOf:
    spec: Any
    keys: Callable[[str], bool] = field(default=lambda _k: True)


@dataclass(frozen=True)
class OneOf:
    specs: tuple[Any, ...]


def _is_num_str(v: Any) -> bool:
    return isinstance(v, str) and v.lstrip("-").isdigit()


NUM_STR = Check("numeric string", _is_num_str)
ON_OFF = Check('"on"/"off"', lambda v: v in ("on", "off"))
TRUE_FALSE = Check('"True"/"False"', lambda v: v in ("True", "False"))
BOOL_STR = Check('"true"/"false"', lambda v: v in ("true", "false"))
UP_DOWN = Check('"up"/"down"', lambda v: v in ("up", "down"))
IPV6_GW = Check("IPv6 gateway ('::' when none)", lambda v: isinstance(v, str) and ":" in v)
CIDR = Check("addr/prefixlen", lambda v: isinstance(v, str) and "/" in v)
NONE = Check("null", lambda v: v is None)
TRUE = Check("true", lambda v: v is True)
FALSE = Check("false", lambda v: v is False)
STR_MAP = MapOf(str)
BOND_OPTS = Check(
    "bond opts: str->numeric-ish str with mode",
    lambda v: isinstance(v, dict) and _is_num_str(v.get("mode"))
    and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
)

COMMON: dict[str, Any] = {
    "addr": str,
    "netmask": str,
    "ipv4addrs": [CIDR],
    "ipv6addrs": [CIDR],
    "gateway": str,
    "ipv6gateway": IPV6_GW,
    "ipv4defaultroute": bool,
    "mtu": NUM_STR,
    "dhcpv4": bool,
    "dhcpv6": bool,
    "ipv6autoconf": bool,
}
CURVE = Shape({"m1": int, "d": int, "m2": int})
HOST_QOS = Shape({"out": Shape({"ls": CURVE, "ul": Opt(CURVE), "rt": Opt(CURVE)})})
DEVICE_QOS = [Shape({"hostQos": HOST_QOS, "vlan": int})]
NIC = Shape({**COMMON, "hwaddr": str, "speed": int, "permhwaddr": Opt(str),
             "ad_aggregator_id": Opt(NUM_STR), "qos": Opt(DEVICE_QOS)})
BOND = Shape({**COMMON, "hwaddr": str, "slaves": [str], "active_slave": str, "opts": BOND_OPTS,
              "switch": str, "speed": int, "ad_aggregator_id": Opt(NUM_STR),
              "ad_partner_mac": Opt(str), "qos": Opt(DEVICE_QOS)})
VLAN = Shape({**COMMON, "iface": str, "vlanid": int})
BRIDGE = Shape({**COMMON, "ports": [str], "stp": ON_OFF, "opts": STR_MAP})
BRIDGED_NET = Shape({**COMMON, "bridged": TRUE, "iface": str, "ports": [str], "stp": ON_OFF,
                     "switch": str, "southbound": OneOf((str, NONE)), "vlanid": Opt(int),
                     "hostQos": Opt(HOST_QOS)})
BRIDGELESS_NET = Shape({**COMMON, "bridged": FALSE, "iface": str, "interface": str,
                        "southbound": str, "switch": str, "vlanid": Opt(int),
                        "hostQos": Opt(HOST_QOS)})
NETWORK_CAPS = Shape({
    "networks": MapOf(OneOf((BRIDGED_NET, BRIDGELESS_NET))),
    "bridges": MapOf(BRIDGE),
    "nics": MapOf(NIC),
    "vlans": MapOf(VLAN),
    "bondings": MapOf(BOND),
    "nameservers": [str],
    "supportsIPv6": bool,
    "netConfigDirty": TRUE_FALSE,
})
CPU_TOPOLOGY = Shape({"cpu_id": int, "numa_cell_id": int, "socket_id": int, "die_id": int,
                      "core_id": int})
CAPS = Shape({
    **NETWORK_CAPS.fields,
    "lastClientIface": str,
    "ovnConfigured": bool,
    "hooks": MapOf(MapOf(Shape({"checksum": Check("sha256 hex", lambda v: isinstance(v, str)
                                                  and len(v) == 64)}))),
    "supportedENGINEs": [str],
    "clusterLevels": [str],
    "version_name": str,
    "software_version": str,
    "software_revision": str,
    "packages2": Check("packages2 with vdsm and kernel {version, release}", lambda v: all(
        isinstance(v.get(p), dict) and isinstance(v[p].get("version"), str)
        and isinstance(v[p].get("release"), str) for p in ("vdsm", "kernel"))),
    "HBAInventory": Shape({"iSCSI": [Shape({"InitiatorName": str})], "FC": list}),
    "operatingSystem": Shape({"name": str, "version": str, "release": str, "pretty_name": str}),
    "uuid": str,
    "kvmEnabled": BOOL_STR,
    "cpuCores": NUM_STR,
    "cpuThreads": NUM_STR,
    "cpuSockets": NUM_STR,
    "onlineCpus": Check("comma list of ids", lambda v: isinstance(v, str) and all(
        p.isdigit() for p in v.split(","))),
    "cpuSpeed": str,
    "cpuModel": str,
    "cpuFlags": str,
    "cpuTopology": [CPU_TOPOLOGY],
    "memSize": NUM_STR,
    "reservedMem": NUM_STR,
    "guestOverhead": NUM_STR,
    "kernelArgs": str,
    "numaNodes": MapOf(Shape({"cpus": [int], "totalMemory": NUM_STR})),
    "numaNodeDistance": MapOf([int]),
    "bootTime": str,
    "kdumpStatus": int,
    "hostdevPassthrough": BOOL_STR,
    "selinux": Shape({"mode": NUM_STR}),
    "ISCSIInitiatorName": str,
    "emulatedMachines": [str],
    "rngSources": [str],
    "vmTypes": [str],
    "domain_versions": [int],
    "additionalFeatures": [str],
    "vdsmToCpusAffinity": [int],
}, open=True)
IFACE_STATS = Shape({"name": str, "rx": NUM_STR, "tx": NUM_STR, "rxDropped": NUM_STR,
                     "txDropped": NUM_STR, "rxErrors": NUM_STR, "txErrors": NUM_STR,
                     "state": UP_DOWN, "speed": NUM_STR, "duplex": str, "sampleTime": float})
NETWORK_STATISTICS = Shape({"network": MapOf(IFACE_STATS), "rxDropped": int, "txDropped": int})
HOST_STATS = Shape({"network": MapOf(IFACE_STATS), "rxDropped": NUM_STR, "txDropped": NUM_STR,
                    "netConfigDirty": TRUE_FALSE}, open=True)
DONE = Shape({"code": Check("0", lambda v: v == 0), "message": Check('"Done"',
                                                                     lambda v: v == "Done")})
SETUP_DONE = Shape({**DONE.fields, "keptInUse": Opt(MapOf([str]))})
PLAN = Shape({"plan": [Shape({"op": str}, open=True)]})
LLDP_TLV = Shape({"type": int, "name": str, "oui": Opt(int), "subtype": Opt(int),
                  "properties": STR_MAP})
LLDP = MapOf(Shape({"enabled": bool, "tlvs": [LLDP_TLV]}))
CHECK = Shape({"differences": [str], "networks": [str]})

RESULTS: dict[str, Any] = {
    "Host.ping": TRUE,
    "Host.ping2": TRUE,
    "Host.confirmConnectivity": TRUE,
    "Host.setupNetworks": SETUP_DONE,
    "Host.setSafeNetworkConfig": TRUE,
    "Host.planNetworks": PLAN,
    "Host.checkNetworks": CHECK,
    "Host.getNetworkCapabilities": NETWORK_CAPS,
    "Host.getCapabilities": CAPS,
    "Host.getStats": HOST_STATS,
    "Host.getNetworkStatistics": NETWORK_STATISTICS,
    "Host.getLldp": LLDP,
}
"""Each verb's reply shape (``check(reply, RESULTS[verb])``)."""


def check(value: Any, spec: Any, path: str = "$") -> None:
    if isinstance(spec, Check):
        if not spec.ok(value):
            raise Mismatch(f"{path}: {value!r} is not {spec.name}")
    elif isinstance(spec, OneOf):
        errors = []
        for option in spec.specs:
            try:
                check(value, option, path)
                return
            except Mismatch as exc:
                errors.append(str(exc))
        raise Mismatch(f"{path}: matches no alternative: {errors}")
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise Mismatch(f"{path}: {value!r} is not a list")
        for i, item in enumerate(value):
            check(item, spec[0], f"{path}[{i}]")
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: {value!r} is not an object")
        for key, item in value.items():
            if not (isinstance(key, str) and spec.keys(key)):
                raise Mismatch(f"{path}: bad key {key!r}")
            check(item, spec.spec, f"{path}.{key}")
    elif isinstance(spec, Shape):
        _check_shape(value, spec, path)
    elif spec is int:
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise Mismatch(f"{path}: {value!r} not int")
    elif spec is float:
        if not isinstance(value, float):
            raise Mismatch(f"{path}: {value!r} is not a float")
    else:
        if not isinstance(value, spec):
            raise Mismatch(f"{path}: {value!r} is not {spec.__name__}")


def _check_shape(value: Any, spec: Shape, path: str) -> None:
    if not isinstance(value, dict):
        raise Mismatch(f"{path}: {value!r} is not an object")
    for key, sub in spec.fields.items():
        if key not in value:
            if not isinstance(sub, Opt):
                raise Mismatch(f"{path}: missing key {key!r}")
            continue
        check(value[key], sub.spec if isinstance(sub, Opt) else sub, f"{path}.{key}")
    if not spec.open:
        extra = set(value) - set(spec.fields)
        if extra:
            raise Mismatch(f"{path}: unexpected keys {sorted(extra)}")
