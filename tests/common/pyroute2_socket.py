"""pyroute2's ``IPRoute`` inside a named network namespace, for the tests and benchmarks that
read or poke the kernel through a second, independent netlink implementation (the oracle, an
"administrator" changing things behind the agent's back).

pyroute2's sync ``IPRoute`` fails inside a running asyncio loop and keeps per-thread state, so the
socket is opened and used only in one thread that has joined the namespace: the product's
``NetlinkWorker``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute

from vdsm_net.backends.netlink.worker import NetlinkWorker

T = TypeVar("T")


class Pyroute2Socket:
    """``call(fn)`` runs ``fn(ipr)`` with an IPRoute opened in ``netns``, in its own thread."""

    def __init__(self, netns: str | None) -> None:
        self._worker = NetlinkWorker(netns)
        try:
            self._ipr: Any = self._worker.call(IPRoute)
        except BaseException:
            self._worker.close()
            raise

    def call(self, fn: Callable[[Any], T]) -> T:
        return self._worker.call(lambda: fn(self._ipr))

    def close(self) -> None:
        try:
            self._worker.call(self._ipr.close)
        finally:
            self._worker.close()

    def __enter__(self) -> Pyroute2Socket:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
