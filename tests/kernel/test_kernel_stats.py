"""Link statistics on the real kernel: observe() fills Link.stats from IFLA_STATS64, and traffic
over a veth pair between two namespaces moves the counters on both ends."""

from __future__ import annotations

import subprocess
import sys

from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.model.kernel import LinkStats

PINGS = 5
PAYLOAD = 1000
# a UDP "ping": the datagrams go out of veth_a into veth_b, and the peer (no listener) answers
# each with an ICMP port unreachable that comes back (there is no ping binary on every host)
SENDER = (
    "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
    "[s.sendto(b'x'*int(sys.argv[2]),(sys.argv[1],9)) for _ in range(int(sys.argv[3]))]"
)


def _stats(backend: NetlinkBackend, name: str) -> LinkStats:
    stats = backend.observe().links[name].stats
    assert stats is not None
    return stats


def test_traffic_over_a_veth_pair_moves_rx_and_tx(nsname: str) -> None:
    peer = nsname + "p"
    ip("netns", "add", peer)
    try:
        ip("-n", nsname, "link", "add", "veth_a", "type", "veth", "peer", "name", "veth_b",
           "netns", peer)
        ip("-n", nsname, "addr", "add", "10.9.0.1/24", "dev", "veth_a")
        ip("-n", peer, "addr", "add", "10.9.0.2/24", "dev", "veth_b")
        ip("-n", nsname, "link", "set", "veth_a", "up")
        ip("-n", peer, "link", "set", "veth_b", "up")
        a, b = NetlinkBackend(nsname), NetlinkBackend(peer)
        try:
            a0, b0 = _stats(a, "veth_a"), _stats(b, "veth_b")
            done = subprocess.run(
                ["ip", "netns", "exec", nsname, sys.executable, "-c", SENDER, "10.9.0.2",
                 str(PAYLOAD), str(PINGS)],
                capture_output=True, text=True, check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            a1, b1 = _stats(a, "veth_a"), _stats(b, "veth_b")
        finally:
            a.close()
            b.close()
    finally:
        ip("netns", "del", peer)
    moved = PINGS * PAYLOAD  # the datagrams each way carry at least the payload
    assert a1.tx_bytes - a0.tx_bytes >= moved and b1.rx_bytes - b0.rx_bytes >= moved
    assert a1.rx_bytes > a0.rx_bytes and b1.tx_bytes > b0.tx_bytes  # ARP and ICMP back
    assert (a1.rx_errors, a1.tx_errors, b1.rx_errors, b1.tx_errors) == (0, 0, 0, 0)
