"""The simulated kernel's Open vSwitch rules (``MemoryKernel`` calls them).

- an OVS bridge is created on its own; an internal port (``ovs-port``) only on an existing OVS
  bridge, with an access tag 0-4095 or none, and it stays on that bridge until it is deleted;
- an OVS bridge takes kernel links (NIC, bond, VLAN, other) as ports; OVS bridges and internal
  ports are nobody's port;
- deleting an OVS bridge deletes its internal ports and releases its other ports, which keep
  their MTU and state (as ``ovs-vsctl del-br`` does).
"""

from __future__ import annotations

from collections.abc import Mapping

from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import Link

OVS_KINDS = frozenset({"ovs-bridge", "ovs-port"})
MAX_TAG = 4095


def check_create(links: Mapping[str, Link], link: Link, op: str) -> str | None:
    """Refuse what OVS refuses of a new bridge or port; return the master it is born with."""
    if link.kind != "ovs-port":
        return None
    master = links.get(link.master or "")
    if master is None or master.kind != "ovs-bridge":
        raise KernelError(op, f"{link.name}: an internal port needs an OVS bridge, "
                              f"not {link.master!r}")
    if link.vlan_id is not None and not 0 <= link.vlan_id <= MAX_TAG:
        raise KernelError(op, f"{link.name}: invalid tag {link.vlan_id}")
    return master.name


def check_port(port: Link, master: Link, op: str) -> None:
    """Refuse an enslavement that involves OVS objects the wrong way round."""
    if port.kind in OVS_KINDS:
        raise KernelError(op, f"{port.name} ({port.kind}) cannot be a port of {master.name}")
    if master.kind == "ovs-bridge" and port.kind == "bridge":
        raise KernelError(op, f"{port.name}: a Linux bridge cannot be an OVS port here")


def dies_with(link: Link, gone: str) -> bool:
    """Whether ``link`` is deleted with the link ``gone`` (a VLAN with its base, an internal
    port with its OVS bridge)."""
    return link.vlan_base == gone or (link.kind == "ovs-port" and link.master == gone)
