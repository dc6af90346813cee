"""The DHCPv6 client process: ``python -m vdsm_net.dynamic.dhcp6_client [--deconfig] IFNAME``.

Why our own: Debian's busybox has no ``udhcpc6``; ``dhcpcd`` keeps a DUID, a secret and lease
files under /var/lib/dhcpcd and runs its own router solicitation that fights the kernel's SLAAC;
ISC ``dhclient`` is end-of-life; ``odhcp6c`` is not packaged by Debian. A stateful IA_NA client is
small (``vdsm_net.dynamic.dhcp6``) and keeps its lease in memory only.

It runs like the manager's ``udhcpc``: one per interface, started by ``DhcpManager`` in the
backend's namespace, the lease recorded as JSON in ``$VDSM_NET_DHCP_STATE`` (under /run or /tmp).
The address goes on the interface as ``/128`` with the lease's lifetimes, so the kernel holds it
as non-permanent (which is how the planner tells it from a static ``ipv6addr``) and drops it by
itself should the client die and the lease run out. SIGTERM stops without a release (the address
stays leased across an agent restart); SIGUSR2 releases, removes the address and exits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from vdsm_net.dynamic.dhcp6 import (
    ALL_SERVERS,
    CLIENT_PORT,
    INFINITY,
    SERVER_PORT,
    Lease,
    Session,
    duid_ll,
    iaid_for,
)
from vdsm_net.dynamic.dhcp_hook import ENV_STATE, read_lease, write_lease

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


class Released(Exception):
    """SIGUSR2: release the lease and exit."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, check=False)


def _lft(seconds: int) -> str:
    return "forever" if seconds >= INFINITY else str(seconds)


def configure(ifname: str, lease: Lease, old: Lease | None) -> None:
    if old is not None and old.address != lease.address:
        _ip("-6", "addr", "del", f"{old.address}/128", "dev", ifname)
    _ip("-6", "addr", "replace", f"{lease.address}/128", "dev", ifname,
        "valid_lft", _lft(lease.valid), "preferred_lft", _lft(lease.preferred))


def deconfigure(ifname: str, state: Path) -> None:
    """Remove the recorded address and the record (also the manager's fallback)."""
    recorded = read_lease(state)
    if recorded is not None:
        _ip("-6", "addr", "del", str(recorded["address"]), "dev", ifname)
    state.unlink(missing_ok=True)


def open_socket(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
    sock.bind(("::", CLIENT_PORT))
    return sock


def mac_of(ifname: str) -> str:
    return Path(f"/sys/class/net/{ifname}/address").read_text(encoding="ascii").strip()


def run(ifname: str, state: Path, session: Session) -> None:
    """Acquire, keep renewed (Renew until T2, Rebind until the lease ends), start over when it
    is lost. Returns only through an exception (SIGTERM's SystemExit, or Released)."""
    lease: Lease | None = None
    try:
        while True:
            lease = session.acquire(time.monotonic() + 3600)
            if lease is None:
                continue
            configure(ifname, lease, None)
            write_lease(state, lease.to_json(ifname))
            while lease is not None:
                got = time.monotonic()
                time.sleep(lease.renew_after())
                new = session.renew(lease, got + lease.rebind_after())
                if new is None:
                    new = session.rebind(lease, got + lease.valid)
                if new is None:
                    deconfigure(ifname, state)
                    lease = None
                    break
                configure(ifname, new, lease)
                write_lease(state, new.to_json(ifname))
                lease = new
    except Released:
        if lease is not None:
            session.release(lease)
        deconfigure(ifname, state)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--deconfig" and ENV_STATE in os.environ:
        deconfigure(argv[2], Path(os.environ[ENV_STATE]))
        return 0
    if len(argv) != 2 or ENV_STATE not in os.environ:
        print("usage: VDSM_NET_DHCP_STATE=FILE python -m vdsm_net.dynamic.dhcp6_client"
              " [--deconfig] IFACE", file=sys.stderr)
        return 2
    ifname, state = argv[1], Path(os.environ[ENV_STATE])

    def released(_sig: int, _frame: FrameType | None) -> None:
        raise Released

    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGUSR2, released)
    signal.signal(signal.SIGTERM, stop)
    try:
        while True:  # the interface may not exist yet, or have no MAC
            try:
                client_id = duid_ll(mac_of(ifname))
                index = socket.if_nametoindex(ifname)
                sock = open_socket(ifname)
                break
            except (OSError, ValueError):
                time.sleep(1)
    except Released:
        deconfigure(ifname, state)
        return 0
    session = Session(sock, (ALL_SERVERS, SERVER_PORT, 0, index), client_id, iaid_for(ifname))
    run(ifname, state, session)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
