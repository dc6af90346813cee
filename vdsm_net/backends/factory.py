"""The backend a process asks for by name: ``memory`` (simulated) or ``netlink`` (real)."""

from __future__ import annotations

from vdsm_net.backends.base import Backend


def make_backend(
    kind: str, nics: str, netns: str | None = None, ovsdb: str | None = None,
    ovs_rundir: str | None = None,
) -> Backend:
    """``nics`` (comma-separated) names the simulated NICs; ``netns`` the real kernel's netns;
    ``ovsdb`` the OVSDB remote of the real kernel's Open vSwitch, or ``ovs_rundir`` where its
    daemons run (started there, database created, when they are not running)."""
    if kind == "memory":
        from vdsm_net.backends.memory.kernel import MemoryKernel

        return MemoryKernel(nics=[n for n in nics.split(",") if n])
    if ovs_rundir is not None and kind != "memory":
        from pathlib import Path

        from vdsm_net.backends.ovs.daemons import ensure_open_vswitch

        ovsdb = ensure_open_vswitch(Path(ovs_rundir), netns)
    if ovsdb is not None:
        from vdsm_net.backends.ovs.backend import OvsBackend

        return OvsBackend(ovsdb, netns=netns)
    from vdsm_net.backends.netlink.backend import NetlinkBackend

    return NetlinkBackend(netns=netns)
