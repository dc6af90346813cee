"""LLDPDUs built for the tests (a switch's side of the wire): one TLV at a time, and the raw
socket a peer namespace sends them from."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.common.iproute import ip
from vdsm_net.backends.netns import enter_netns
from vdsm_net.lldp.tlv import ETH_P_LLDP, LLDP_MULTICAST

PEER_MAC = bytes.fromhex("0123456789ab")


def tlv(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", (kind << 9) | len(body)) + body


def org(oui: int, subtype: int, body: bytes) -> bytes:
    return tlv(127, oui.to_bytes(3, "big") + bytes([subtype]) + body)


def frame(*tlvs: bytes, src: bytes = PEER_MAC, end: bool = True) -> bytes:
    head = LLDP_MULTICAST + src + struct.pack("!H", ETH_P_LLDP)
    return head + b"".join(tlvs) + (tlv(0, b"") if end else b"")


def switch_frame(ttl: int = 120, name: str = "site1-row2-rack3") -> bytes:
    """A switch's LLDPDU: mandatory TLVs, names, capabilities, a management address, and the
    802.1/802.3 TLVs vdsm reports."""
    mgmt = bytes([5, 1]) + ipaddress.IPv4Address("10.21.0.40").packed
    return frame(
        tlv(1, bytes([4]) + PEER_MAC),
        tlv(2, bytes([7]) + b"588"),
        tlv(3, struct.pack("!H", ttl)),
        tlv(5, name.encode()),
        tlv(6, b"manufacturer, Build date: 2016-01-20 05:03:06 UTC"),
        tlv(7, struct.pack("!HH", 0x14, 0x14)),
        tlv(8, mgmt + struct.pack("!BI", 2, 36) + bytes([0])),
        tlv(4, b"some important server, port 4"),
        org(0x0080C2, 7, struct.pack("!BI", 3, 600)),
        org(0x00120F, 4, struct.pack("!H", 9216)),
        org(0x0080C2, 1, struct.pack("!H", 2000)),
        org(0x0080C2, 3, struct.pack("!HB", 2000, 3) + b"foo"),
        org(0x009069, 1, bytes.fromhex("5045")),
    )


def peer_socket(netns: str, ifname: str) -> socket.socket:
    """A raw LLDP socket on ``ifname`` in the namespace ``netns`` (opened from a thread that
    joins it; the socket stays there), with a 0.2 s receive timeout."""
    out: list[socket.socket] = []

    def run() -> None:
        enter_netns(netns)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_LLDP))
        sock.bind((ifname, ETH_P_LLDP))
        sock.settimeout(0.2)
        out.append(sock)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out[0]


@contextmanager
def peer_namespace(netns: str) -> Iterator[str]:
    """A peer namespace wired to ``netns`` by a veth pair, ``veth_l`` (in ``netns``) and
    ``veth_lp`` (in the peer), both up; the peer is deleted afterwards with its end."""
    name = f"lldppeer{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("-n", netns, "link", "add", "veth_l", "type", "veth", "peer", "name", "veth_lp",
           "netns", name)
        ip("-n", netns, "link", "set", "veth_l", "up")
        ip("-n", name, "link", "set", "veth_lp", "up")
        yield name
    finally:
        ip("netns", "del", name)
