"""The backend a process asks for by name: ``memory`` (simulated) or ``netlink`` (real)."""

from __future__ import annotations

from vdsm_net.backends.base import Backend


def make_backend(kind: str, nics: str, netns: str | None = None) -> Backend:
    """``nics`` (comma-separated) names the simulated NICs; ``netns`` the real kernel's netns."""
    if kind == "memory":
        from vdsm_net.backends.memory.kernel import MemoryKernel

        return MemoryKernel(nics=[n for n in nics.split(",") if n])
    from vdsm_net.backends.netlink.backend import NetlinkBackend

    return NetlinkBackend(netns=netns)
