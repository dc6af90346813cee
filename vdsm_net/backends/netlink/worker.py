"""One dedicated thread that owns the pyroute2 socket (and, for a named netns, lives in it).

pyroute2's sync ``IPRoute`` fails inside a running asyncio loop and keeps per-thread state, so every
netlink call runs here. The thread joins the named network namespace with setns(2), which affects
only the calling thread; the IPRoute it opens is then a socket in that namespace. For sysfs, which
shows the namespace of whoever mounted it, the thread mounts a sysfs from inside the namespace,
opens it and detaches it at once (see ``sysfs_root``): the open directory keeps the mount alive
and reachable as ``/proc/self/fd/N`` for this process only, and nothing is left in the host's
mount table, not even after SIGKILL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pyroute2 import IPRoute

from vdsm_net.backends.netns import check as _check
from vdsm_net.backends.netns import enter_netns
from vdsm_net.backends.netns import libc as _libc

T = TypeVar("T")

MNT_DETACH = 2


class NetlinkWorker:
    """Runs callables ``fn(ipr)`` in the worker thread and blocks for their result."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._ipr: IPRoute | None = None
        self._sysfs_fd: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        try:
            self.call(lambda _ipr: None)  # start now: a bad netns fails the constructor
        except BaseException:
            self._pool.shutdown(wait=True)
            raise

    def _setup(self) -> IPRoute:
        if self._ipr is None:
            if self.netns is not None:
                enter_netns(self.netns)
            self._ipr = IPRoute()
        return self._ipr

    def call(self, fn: Callable[[Any], T]) -> T:
        return self._pool.submit(lambda: fn(self._setup())).result()

    def sysfs_root(self) -> Path:
        """/sys/class/net as seen from the worker's namespace."""
        if self.netns is None:
            return Path("/sys/class/net")
        return self.call(lambda _ipr: self._private_sysfs()) / "class" / "net"

    def _private_sysfs(self) -> Path:
        # runs in the worker thread, inside the namespace: sysfs tags the mount with it
        if self._sysfs_fd is None:
            target = Path(tempfile.mkdtemp(prefix=f"vdsm-net-sysfs-{self.netns}-"))
            try:
                _check(_libc.mount(b"sysfs", bytes(target), b"sysfs", 0, None), "mount sysfs")
                try:
                    self._sysfs_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
                finally:
                    _check(_libc.umount2(bytes(target), MNT_DETACH), "detach sysfs")
            finally:
                os.rmdir(target)
        return Path(f"/proc/self/fd/{self._sysfs_fd}")

    def close(self) -> None:
        def _teardown(_ipr: Any) -> None:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None
            if self._sysfs_fd is not None:
                os.close(self._sysfs_fd)  # the last reference: the detached mount goes away
                self._sysfs_fd = None

        try:
            self._pool.submit(_teardown, None).result()
        finally:
            self._pool.shutdown(wait=True)
