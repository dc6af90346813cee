"""Joining a named network namespace (``ip netns`` names under /run/netns) from one thread.

setns(2) moves only the calling thread, so each user runs its namespaced work in a thread of
its own: the netlink backend's worker, its event monitor, the DHCP manager's sysctl thread.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError with errno for a libc call that returned non-zero."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter_netns(name: str) -> None:
    """Move the calling thread (only) into the named network namespace."""
    fd = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        check(libc.setns(fd, CLONE_NEWNET), f"setns {name}")
    finally:
        os.close(fd)
