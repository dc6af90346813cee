"""systemd's service notification protocol (sd_notify(3)), written out: a datagram to the
``AF_UNIX`` socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace).

The maintained choices are heavy (systemd-python needs libsystemd headers to build) and the light
one, ``sdnotify``, has had no release since 2017; the protocol is one ``sendto`` per message.
Without ``$NOTIFY_SOCKET`` (not run by systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


def _address(name: str) -> str:
    return "\0" + name[1:] if name.startswith("@") else name


class Notifier:
    """Sends ``READY=1``, ``STOPPING=1``, ``STATUS=..`` and ``WATCHDOG=1`` to systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get(NOTIFY_SOCKET_ENV) or None
        self.watchdog_s = watchdog_interval(env)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """One datagram of ``KEY=VALUE`` lines; False (logged once at debug) when it fails."""
        if self.address is None:
            return False
        data = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(data, _address(self.address))
        except OSError as exc:
            log.debug("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def stopping(self) -> bool:
        self.stop_watchdog()
        return self.send("STOPPING=1", "STATUS=stopping")

    def start_watchdog(self) -> None:
        """Ping ``WATCHDOG=1`` at half the interval systemd asked for, from a daemon thread."""
        if self.watchdog_s is None or not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watchdog, name="sd-watchdog", daemon=True)
        self._thread.start()

    def _watchdog(self) -> None:
        assert self.watchdog_s is not None
        while not self._stop.wait(self.watchdog_s / 2):
            self.send("WATCHDOG=1")

    def stop_watchdog(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between watchdog deadlines, when ``$WATCHDOG_USEC`` is meant for this process."""
    usec = environ.get(WATCHDOG_USEC_ENV, "")
    pid = environ.get(WATCHDOG_PID_ENV, "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1e6
