"""A small LLDP receiver: one raw AF_PACKET socket per NIC (ethertype 0x88cc, joined to the LLDP
multicast group), in the agent's namespace, read by one thread. Receive only: nothing is ever
sent and nothing is written to disk; each NIC keeps its last LLDPDU until its time to live runs
out (a TTL of 0, a peer's shutdown, forgets it at once).

The NIC list comes from ``nics()`` (the backend's observation), refreshed every
``REFRESH_SECONDS`` by the thread itself, since a socket belongs to the namespace it is opened
in. A NIC without a socket (the receiver is off, or opening it failed) is ``enabled: false``.
"""

from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable

from vdsm_net.backends.netns import enter_netns
from vdsm_net.lldp.tlv import ETH_P_LLDP, LLDP_MULTICAST, Lldpdu, LldpReport, LldpTlv, decode

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST = 263, 1, 0
MAX_FRAME = 9216


def _open(name: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_LLDP))
    try:
        sock.bind((name, ETH_P_LLDP))
        index = socket.if_nametoindex(name)
        mreq = struct.pack("=iHH8s", index, PACKET_MR_MULTICAST, 6, LLDP_MULTICAST)
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class LldpReceiver:
    def __init__(self, nics: Callable[[], Iterable[str]], netns: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._nics = nics
        self._netns = netns
        self._clock = clock
        self._lock = threading.Lock()
        self._frames: dict[str, tuple[Lldpdu, float]] = {}  # nic -> (last LLDPDU, expiry)
        self._socks: dict[str, socket.socket] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lldp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=REFRESH_SECONDS + 5)

    def _run(self) -> None:
        if self._netns is not None:
            enter_netns(self._netns)
        selector = selectors.DefaultSelector()
        try:
            while not self._stop.is_set():
                self._refresh(selector)
                deadline = self._clock() + REFRESH_SECONDS
                while not self._stop.is_set() and self._clock() < deadline:
                    for key, _events in selector.select(timeout=0.5):
                        self._read(key.data, key.fileobj)  # type: ignore[arg-type]
        finally:
            with self._lock:
                for sock in self._socks.values():
                    sock.close()
                self._socks.clear()
            selector.close()

    def _refresh(self, selector: selectors.BaseSelector) -> None:
        try:
            wanted = set(self._nics())
        except Exception:  # the backend is busy or gone: keep what we have
            log.exception("lldp: cannot list the NICs")
            return
        with self._lock:
            for name in sorted(set(self._socks) - wanted):
                selector.unregister(self._socks[name])
                self._socks.pop(name).close()
                self._frames.pop(name, None)
            for name in sorted(wanted - set(self._socks)):
                try:
                    sock = _open(name)
                except OSError as exc:
                    log.warning("lldp: not listening on %s: %s", name, exc.strerror or exc)
                    continue
                self._socks[name] = sock
                selector.register(sock, selectors.EVENT_READ, name)

    def _read(self, name: str, sock: socket.socket) -> None:
        for _ in range(64):  # a burst, then back to the other NICs
            try:
                frame, address = sock.recvfrom(MAX_FRAME)
            except BlockingIOError:
                return
            except OSError as exc:  # ENETDOWN when the link went down: not worth a warning
                log.debug("lldp: %s: %s", name, exc.strerror or exc)
                return
            if address[2] != socket.PACKET_OUTGOING:
                self.feed(name, frame)

    def feed(self, name: str, frame: bytes) -> None:
        """One frame received on ``name``: its LLDPDU replaces the NIC's last one."""
        pdu = decode(frame)
        if pdu is None:
            log.debug("lldp: %s: a malformed LLDPDU was ignored", name)
            return
        with self._lock:
            if pdu.ttl == 0:
                self._frames.pop(name, None)
            else:
                self._frames[name] = (pdu, self._clock() + pdu.ttl)

    # -- the report ----------------------------------------------------------------------------

    def listening(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._socks)

    def report(self, devices: Iterable[str] | None = None) -> LldpReport:
        """vdsm's ``{dev: {"enabled": bool, "tlvs": [...]}}`` for the devices (all NICs the
        receiver listens on when None)."""
        now = self._clock()
        with self._lock:
            names = sorted(self._socks) if devices is None else list(devices)
            out: LldpReport = {}
            for name in names:
                seen = self._frames.get(name)
                if seen is not None and seen[1] <= now:
                    del self._frames[name]
                    seen = None
                tlvs: list[LldpTlv] = [{**t, "properties": dict(t["properties"])}
                                       for t in seen[0].tlvs] if seen else []
                out[name] = {"enabled": name in self._socks, "tlvs": tlvs}
            return out


def disabled_report(devices: Iterable[str]) -> LldpReport:
    """The answer where no receiver runs: every device ``enabled: false``, no TLVs."""
    return {name: {"enabled": False, "tlvs": []} for name in devices}
