"""The backend a process asks for by name: ``memory`` (simulated) or ``netlink`` (real)."""

from __future__ import annotations

from vdsm_net.backends.base import Backend


def make_backend(
    kind: str, nics: str, netns: str | None = None, ovsdb: str | None = None
) -> Backend:
    """``nics`` (comma-separated) names the simulated NICs; ``netns`` the real kernel's netns;
    ``ovsdb`` the OVSDB remote of the real kernel's Open vSwitch."""
    if kind == "memory":
        from vdsm_net.backends.memory import MemoryKernel

        return MemoryKernel(nics=[n for n in nics.split(",") if n])
    if ovsdb is not None:
        from vdsm_net.backends.ovs.backend import OvsBackend

        return OvsBackend(ovsdb, netns=netns)
    from vdsm_net.backends.netlink.backend import NetlinkBackend

    return NetlinkBackend(netns=netns)
