"""LLDP on the real kernel: a peer namespace sends LLDPDUs over a veth pair from a raw socket,
the receiver (in the agent's namespace) reports the peer's TLVs in vdsm's shape, and sends
nothing itself."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.common.lldp_frames import peer_namespace, peer_socket, switch_frame
from vdsm_net.lldp.receiver import LldpReceiver

WAIT = 20.0  # an upper bound for "eventually", never a pass/fail timing


def eventually(what: str, ok: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not ok():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def peer(nics_ns: str) -> Iterator[str]:
    with peer_namespace(nics_ns) as name:
        yield name


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
    sock = peer_socket(peer, "veth_lp")
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
