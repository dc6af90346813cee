"""One dedicated thread that lives in the target network namespace (for a named netns).

setns(2) moves only the calling thread, and a socket keeps the namespace it was created in. So the
worker thread joins the named namespace once, and what must be made *inside* it is made there
through ``call``: the backend's rtnetlink socket (``codec.RtnlSocket``), which the backend then
uses from the caller's thread (no netlink call hops back here), and a private sysfs. For sysfs,
which shows the namespace of whoever mounted it, the thread mounts a sysfs from inside the
namespace, opens it and detaches it at once (see ``sysfs_root``): the open directory keeps the
mount alive and reachable as ``/proc/self/fd/N`` for this process only, and nothing is left in the
host's mount table, not even after SIGKILL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from vdsm_net.backends.netns import check as _check
from vdsm_net.backends.netns import enter_netns
from vdsm_net.backends.netns import libc as _libc

T = TypeVar("T")

MNT_DETACH = 2


class NetlinkWorker:
    """Runs callables ``fn()`` in the worker thread, inside the namespace, and blocks for their
    result."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._entered = False
        self._sysfs_fd: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        try:
            self.call(lambda: None)  # enter now: a bad netns fails the constructor
        except BaseException:
            self._pool.shutdown(wait=True)
            raise

    def _run(self, fn: Callable[[], T]) -> T:
        if not self._entered:
            if self.netns is not None:
                enter_netns(self.netns)
            self._entered = True
        return fn()

    def call(self, fn: Callable[[], T]) -> T:
        return self._pool.submit(self._run, fn).result()

    def sysfs_root(self) -> Path:
        """/sys/class/net as seen from the worker's namespace."""
        if self.netns is None:
            return Path("/sys/class/net")
        return self.call(self._private_sysfs) / "class" / "net"

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
        def _teardown() -> None:
            if self._sysfs_fd is not None:
                os.close(self._sysfs_fd)  # the last reference: the detached mount goes away
                self._sysfs_fd = None

        try:
            self._pool.submit(_teardown).result()
        finally:
            self._pool.shutdown(wait=True)
