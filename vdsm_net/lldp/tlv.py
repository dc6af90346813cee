"""LLDPDUs (IEEE 802.1AB) decoded into vdsm's ``Host.getLldp`` TLV shape:
``{"type": int, "name": str, "properties": {str: str}}``, plus ``"oui"`` and ``"subtype"`` (ints)
for organizationally specific TLVs (type 127). Names and property keys are those vdsm reports
(it reads them from lldpad's ``lldptool``).

Every frame comes from the wire, i.e. from anyone: decoding never raises on bad input; a frame
that is not a well-formed LLDPDU (no Chassis ID, Port ID and TTL first, a TLV running past the
frame) decodes to None, and at most ``MAX_TLVS`` TLVs are kept.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NotRequired, TypedDict

ETH_P_LLDP = 0x88CC
LLDP_MULTICAST = bytes.fromhex("0180c200000e")
MAX_TLVS = 64
OUI_8021 = 0x0080C2  # IEEE 802.1
OUI_8023 = 0x00120F  # IEEE 802.3

CHASSIS_SUBTYPES = {1: "Chassis Component", 2: "IfAlias", 3: "Port Component", 4: "MAC",
                    5: "Network Address", 6: "Ifname", 7: "Local"}
PORT_SUBTYPES = {1: "IfAlias", 2: "Port Component", 3: "MAC", 4: "Network Address",
                 5: "Ifname", 6: "Agent Circuit ID", 7: "Local"}
CAPABILITIES = ("Other", "Repeater", "Bridge", "WLAN Access Point", "Router", "Telephone",
                "DOCSIS cable device", "Station Only", "C-VLAN", "S-VLAN", "TPMR")
IF_NUMBERING = {1: "Unknown", 2: "Ifindex", 3: "System port number"}
BASIC_NAMES = {1: "Chassis ID", 2: "Port ID", 3: "Time to Live", 4: "Port Description",
               5: "System Name", 6: "System Description", 7: "System Capabilities",
               8: "Management Address"}


class LldpTlv(TypedDict):
    """One TLV in vdsm's shape (part of the verbs' schema, ``verbs.shapes``)."""

    type: int
    name: str
    oui: NotRequired[int]
    subtype: NotRequired[int]
    properties: dict[str, str]


class LldpDevice(TypedDict):
    enabled: bool
    tlvs: list[LldpTlv]


LldpReport = dict[str, LldpDevice]
"""``Host.getLldp``: per device."""


@dataclass(frozen=True)
class Lldpdu:
    """One decoded LLDPDU: its TLVs in vdsm's shape, and its time to live in seconds."""

    tlvs: tuple[LldpTlv, ...]
    ttl: int


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\0")


def _address(raw: bytes) -> tuple[str, str]:
    """(subtype name, text) of an IANA address-family-prefixed address (1 IPv4, 2 IPv6)."""
    if len(raw) == 5 and raw[0] == 1:
        return "IPv4", str(ipaddress.IPv4Address(raw[1:]))
    if len(raw) == 17 and raw[0] == 2:
        return "IPv6", str(ipaddress.IPv6Address(raw[1:]))
    return "Network Address", raw.hex()


def _id(kind: str, names: dict[int, str], mac: int, net: int, body: bytes) -> dict[str, str]:
    subtype, value = body[0], body[1:]
    name = names.get(subtype, f"Reserved {subtype}")
    if subtype == mac and len(value) == 6:
        text = value.hex(":")
    elif subtype == net:
        name, text = _address(value)
    else:
        text = _text(value)
    return {f"{kind} ID": text, f"{kind} ID subtype": name}


def _capabilities(body: bytes) -> dict[str, str]:
    system, enabled = struct.unpack_from("!HH", body)

    def names(bits: int) -> str:
        return ", ".join(n for i, n in enumerate(CAPABILITIES) if bits & (1 << i))

    return {"system capabilities": names(system), "enabled capabilities": names(enabled)}


def _management(body: bytes) -> dict[str, str]:
    length = body[0]
    address = body[1:1 + length]
    rest = body[1 + length:]
    numbering, number = struct.unpack_from("!BI", rest)
    subtype, text = _address(address)
    out = {"management address subtype": subtype, "management address": text,
           "interface numbering subtype": IF_NUMBERING.get(numbering, str(numbering)),
           "interface numbering": str(number)}
    oid_length = rest[5] if len(rest) > 5 else 0
    if oid_length:
        out["object identifier"] = rest[6:6 + oid_length].hex()
    return out


def _bool(value: int) -> str:
    return "True" if value else "False"


def _aggregation(body: bytes) -> dict[str, str]:
    status, port = struct.unpack_from("!BI", body)
    return {"Aggregation capable": _bool(status & 1), "Currently aggregated": _bool(status & 2),
            "Aggregated Port ID": str(port)}


def _vlan_name(body: bytes) -> dict[str, str]:
    vid, length = struct.unpack_from("!HB", body)
    return {"VLAN ID": str(vid), "VLAN Name": _text(body[3:3 + length])}


ORG: dict[tuple[int, int], tuple[str, Callable[[bytes], dict[str, str]]]] = {
    (OUI_8021, 1): ("Port VLAN ID", lambda b: {"Port VLAN ID": str(struct.unpack("!H", b[:2])[0])}),
    (OUI_8021, 3): ("VLAN Name", _vlan_name),
    (OUI_8021, 7): ("Link Aggregation", _aggregation),
    (OUI_8023, 3): ("Link Aggregation", _aggregation),
    (OUI_8023, 4): ("MTU", lambda b: {"mtu": str(struct.unpack("!H", b[:2])[0])}),
}

BASIC: dict[int, Callable[[bytes], dict[str, str]]] = {
    1: lambda b: _id("chassis", CHASSIS_SUBTYPES, 4, 5, b),
    2: lambda b: _id("port", PORT_SUBTYPES, 3, 4, b),
    3: lambda b: {"time to live": str(struct.unpack("!H", b[:2])[0])},
    4: lambda b: {"port description": _text(b)},
    5: lambda b: {"system name": _text(b)},
    6: lambda b: {"system description": _text(b)},
    7: _capabilities,
    8: _management,
}


def _tlv(kind: int, body: bytes) -> LldpTlv:
    if kind == 127:
        oui, subtype = int.from_bytes(body[:3], "big"), body[3]
        name, decode = ORG.get((oui, subtype), ("Unidentified Org Specific",
                                                lambda b: {"info": b.hex()}))
        return {"type": kind, "oui": oui, "subtype": subtype, "name": name,
                "properties": decode(body[4:])}
    decode = BASIC.get(kind)
    if decode is None:
        return {"type": kind, "name": f"Unknown TLV {kind}", "properties": {"info": body.hex()}}
    return {"type": kind, "name": BASIC_NAMES[kind], "properties": decode(body)}


def decode(frame: bytes) -> Lldpdu | None:
    """The LLDPDU of an Ethernet frame (ethertype 0x88cc), or None when it is not one."""
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_LLDP:
        return None
    off, ttl = 14, 0
    tlvs: list[LldpTlv] = []
    while off + 2 <= len(frame) and len(tlvs) < MAX_TLVS:
        head = struct.unpack_from("!H", frame, off)[0]
        kind, length = head >> 9, head & 0x1FF
        body = frame[off + 2:off + 2 + length]
        if len(body) != length:
            return None
        off += 2 + length
        if kind == 0:
            break
        if len(tlvs) < 3 and kind != len(tlvs) + 1:
            return None  # 802.1AB: Chassis ID, Port ID, TTL come first, in that order
        try:
            tlv = _tlv(kind, body)
        except (struct.error, IndexError, ValueError):
            return None
        if kind == 3:
            ttl = int(tlv["properties"]["time to live"])
        tlvs.append(tlv)
    if len(tlvs) < 3:
        return None
    return Lldpdu(tuple(tlvs), ttl)
