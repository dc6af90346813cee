"""The backend port: the only way the engine reaches a kernel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vdsm_net.kernel import KernelState
from vdsm_net.ops import Op


@dataclass(frozen=True)
class NicFacts:
    """Facts about a NIC for the capabilities; 0 / '' when unknown, as vdsm reports them."""

    speed: int = 0
    duplex: str = "unknown"
    driver: str = ""
    bus_info: str = ""


class Backend(Protocol):
    def observe(self) -> KernelState:
        """One consistent snapshot of links, addresses, static routes and rules."""
        ...

    def apply(self, op: Op) -> None:
        """Apply one op, or raise ``vdsm_net.errors.KernelError`` and change nothing."""
        ...

    def nic_facts(self, name: str) -> NicFacts:
        """Speed, duplex, driver and bus info of a NIC."""
        ...
