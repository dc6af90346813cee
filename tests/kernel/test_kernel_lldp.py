"""LLDP on the real kernel: a peer namespace sends LLDPDUs over a veth pair from a raw socket,
the receiver (in the agent's namespace) reports the peer's TLVs in vdsm's shape, and sends
nothing itself."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.common.iproute import ip
from tests.common.lldp_frames import switch_frame
from vdsm_net.backends.netns import enter_netns
from vdsm_net.lldp.receiver import LldpReceiver
from vdsm_net.lldp.tlv import ETH_P_LLDP

WAIT = 20.0  # an upper bound for "eventually", never a pass/fail timing


def eventually(what: str, ok: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not ok():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def in_netns(name: str, make: Callable[[], socket.socket]) -> socket.socket:
    """A socket opened in the named namespace (it stays there), from a thread of its own."""
    out: list[socket.socket] = []

    def run() -> None:
        enter_netns(name)
        out.append(make())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out[0]


@pytest.fixture
def peer(nics_ns: str) -> Iterator[str]:
    name = f"vntpeer{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("-n", nics_ns, "link", "add", "veth_l", "type", "veth", "peer", "name", "veth_lp",
           "netns", name)
        ip("-n", nics_ns, "link", "set", "veth_l", "up")
        ip("-n", name, "link", "set", "veth_lp", "up")
        yield name
    finally:
        ip("netns", "del", name)


@pytest.fixture
def receiver(nics_ns: str, peer: str) -> Iterator[LldpReceiver]:
    rx = LldpReceiver(lambda: ["veth_l", "dummy_0"], netns=nics_ns)
    rx.start()
    try:
        eventually("listening on both NICs", lambda: rx.listening() == {"veth_l", "dummy_0"})
        yield rx
    finally:
        rx.stop()


def test_a_peer_s_tlvs_are_reported(receiver: LldpReceiver, peer: str) -> None:
    def raw() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_LLDP))
        sock.bind(("veth_lp", ETH_P_LLDP))
        sock.settimeout(0.2)
        return sock

    sock = in_netns(peer, raw)
    try:
        assert receiver.report(["veth_l"]) == {"veth_l": {"enabled": True, "tlvs": []}}
        sock.send(switch_frame(name="peer-switch"))

        def seen() -> bool:
            return bool(receiver.report(["veth_l"])["veth_l"]["tlvs"])

        eventually("the peer's LLDPDU is reported", seen)
        report = receiver.report(["veth_l", "dummy_0", "nope0"])
        tlvs = report["veth_l"]["tlvs"]
        assert {"type": 5, "name": "System Name",
                "properties": {"system name": "peer-switch"}} in tlvs
        assert tlvs[0]["properties"] == {"chassis ID": "01:23:45:67:89:ab",
                                         "chassis ID subtype": "MAC"}
        assert report["dummy_0"] == {"enabled": True, "tlvs": []}
        assert report["nope0"] == {"enabled": False, "tlvs": []}
        sock.send(switch_frame(ttl=0))  # the peer shuts LLDP down
        eventually("a TTL of 0 forgets the peer", lambda: not seen())
        # receive only: the peer never gets an LLDPDU from our side
        incoming = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                frame, address = sock.recvfrom(9216)
            except TimeoutError:
                continue
            if address[2] != socket.PACKET_OUTGOING:
                incoming.append(frame)
        assert incoming == []
    finally:
        sock.close()
