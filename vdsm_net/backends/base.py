"""The backend port: the only way the engine reaches a kernel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import Op


@dataclass(frozen=True)
class NicFacts:
    """Facts about a NIC for the capabilities; 0 / '' when unknown, as vdsm reports them."""

    speed: int = 0
    duplex: str = "unknown"
    driver: str = ""
    bus_info: str = ""


class Backend(Protocol):
    def observe(self, stats: bool = True) -> KernelState:
        """One consistent snapshot of links, addresses, static routes and rules.

        With ``stats=False`` the backend may leave ``Link.stats`` out (None), which saves
        work: the planner never reads the link counters."""
        ...

    def apply(self, op: Op) -> None:
        """Apply one op, or raise ``vdsm_net.model.errors.KernelError`` and change nothing."""
        ...

    def nic_facts(self, name: str) -> NicFacts:
        """Speed, duplex, driver and bus info of a NIC."""
        ...


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A backend that can apply many ops at once (optional; the engine uses it when present)."""

    def apply_batch(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in order, or raise ``KernelError`` naming the first op that failed. On
        a failure every op of the call counts as attempted (the revert covers them all)."""
        ...
