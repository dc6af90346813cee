"""LLDPDUs into vdsm's getLldp TLV shape; malformed frames from a hostile peer are ignored; the
receiver's report (TTL expiry, a peer's shutdown) and the verb's filter."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tests.common.lldp_frames import frame, switch_frame, tlv
from vdsm_net.lldp.receiver import LldpReceiver
from vdsm_net.lldp.tlv import MAX_TLVS, decode
from vdsm_net.model.errors import NetworkError
from vdsm_net.verbs.lldp import get_lldp
from vdsm_net.verbs.schema import RESULTS, check

EXPECTED: list[dict[str, Any]] = [
    {"type": 1, "name": "Chassis ID",
     "properties": {"chassis ID": "01:23:45:67:89:ab", "chassis ID subtype": "MAC"}},
    {"type": 2, "name": "Port ID", "properties": {"port ID": "588", "port ID subtype": "Local"}},
    {"type": 3, "name": "Time to Live", "properties": {"time to live": "120"}},
    {"type": 5, "name": "System Name", "properties": {"system name": "site1-row2-rack3"}},
    {"type": 6, "name": "System Description",
     "properties": {"system description": "manufacturer, Build date: 2016-01-20 05:03:06 UTC"}},
    {"type": 7, "name": "System Capabilities",
     "properties": {"system capabilities": "Bridge, Router",
                    "enabled capabilities": "Bridge, Router"}},
    {"type": 8, "name": "Management Address",
     "properties": {"interface numbering subtype": "Ifindex", "interface numbering": "36",
                    "management address subtype": "IPv4", "management address": "10.21.0.40"}},
    {"type": 4, "name": "Port Description",
     "properties": {"port description": "some important server, port 4"}},
    {"type": 127, "oui": 32962, "subtype": 7, "name": "Link Aggregation",
     "properties": {"Currently aggregated": "True", "Aggregation capable": "True",
                    "Aggregated Port ID": "600"}},
    {"type": 127, "oui": 4623, "subtype": 4, "name": "MTU", "properties": {"mtu": "9216"}},
    {"type": 127, "oui": 32962, "subtype": 1, "name": "Port VLAN ID",
     "properties": {"Port VLAN ID": "2000"}},
    {"type": 127, "oui": 32962, "subtype": 3, "name": "VLAN Name",
     "properties": {"VLAN ID": "2000", "VLAN Name": "foo"}},
    {"type": 127, "oui": 0x009069, "subtype": 1, "name": "Unidentified Org Specific",
     "properties": {"info": "5045"}},
]


def test_a_switch_s_lldpdu_in_vdsm_s_shape() -> None:
    pdu = decode(switch_frame())
    assert pdu is not None and pdu.ttl == 120
    assert list(pdu.tlvs) == EXPECTED


MANDATORY = (tlv(1, bytes([4]) + bytes(6)), tlv(2, bytes([5]) + b"eth0"),
             tlv(3, struct.pack("!H", 30)))
BAD = {
    "not LLDP": frame(*MANDATORY)[:12] + b"\x08\x00" + frame(*MANDATORY)[14:],
    "too short": b"\x01\x80",
    "TTL missing": frame(*MANDATORY[:2]),
    "out of order": frame(MANDATORY[1], MANDATORY[0], MANDATORY[2]),
    "TLV past the end": frame(*MANDATORY, end=False) + struct.pack("!H", (5 << 9) | 40) + b"x",
    "truncated capabilities": frame(*MANDATORY, tlv(7, b"\x00")),
    "empty chassis ID": frame(tlv(1, b""), *MANDATORY[1:]),
    "truncated management address": frame(*MANDATORY, tlv(8, bytes([5, 1, 10]))),
}


@pytest.mark.parametrize("raw", BAD.values(), ids=list(BAD))
def test_a_malformed_frame_is_ignored(raw: bytes) -> None:
    assert decode(raw) is None


def test_odd_but_valid_values_are_reported_not_refused() -> None:
    pdu = decode(frame(tlv(1, bytes([9]) + b"\xff\xfe"), MANDATORY[1], MANDATORY[2],
                       tlv(42, b"\x01"), *(tlv(5, b"n") for _ in range(2 * MAX_TLVS))))
    assert pdu is not None and len(pdu.tlvs) == MAX_TLVS
    assert pdu.tlvs[0]["properties"]["chassis ID subtype"] == "Reserved 9"
    assert pdu.tlvs[3] == {"type": 42, "name": "Unknown TLV 42", "properties": {"info": "01"}}


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_receiver_keeps_the_last_lldpdu_until_its_ttl() -> None:
    clock = Clock()
    rx = LldpReceiver(lambda: ["eth0"], clock=clock)
    rx._socks["eth0"] = None  # type: ignore[assignment]  # listening, as _refresh would mark it
    assert rx.report(["eth0", "eth9"]) == {"eth0": {"enabled": True, "tlvs": []},
                                           "eth9": {"enabled": False, "tlvs": []}}
    rx.feed("eth0", switch_frame(ttl=30))
    rx.feed("eth0", b"garbage")  # ignored: the last good LLDPDU stays
    assert rx.report(["eth0"])["eth0"]["tlvs"] == [
        dict(t, properties={**t["properties"], "time to live": "30"})
        if t["type"] == 3 else t for t in EXPECTED]
    check(rx.report(), RESULTS["Host.getLldp"])
    clock.now += 31
    assert rx.report(["eth0"])["eth0"]["tlvs"] == []
    rx.feed("eth0", switch_frame(ttl=30))
    rx.feed("eth0", switch_frame(ttl=0))  # the peer shuts down
    assert rx.report(["eth0"])["eth0"]["tlvs"] == []


def test_the_verb_without_a_receiver_and_its_filter() -> None:
    assert get_lldp(None, ["eth1", "eth0"], None) == {
        "eth0": {"enabled": False, "tlvs": []}, "eth1": {"enabled": False, "tlvs": []}}
    assert get_lldp(None, ["eth0"], {"devices": ["eth7"]}) == {
        "eth7": {"enabled": False, "tlvs": []}}
    assert list(get_lldp(None, ["eth0"], {"devices": []})) == ["eth0"]
    bads: list[Any] = ["eth0", {"devices": "eth0"}, {"devices": [1]}, {"devices": ["x" * 16]},
                       {"nics": []}, {"devices": ["e"] * 5000}]
    for bad in bads:
        with pytest.raises(NetworkError) as info:
            get_lldp(None, ["eth0"], bad)
        assert info.value.code == 21
