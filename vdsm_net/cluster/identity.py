"""Host identity that survives a reboot with nothing stored, and the facts a host registers.

The id is, in order: ``--host-id``; the DMI product UUID (``/sys/class/dmi/id/product_uuid``,
lower case; firmware placeholders of all zeros or all ``f`` do not count); the management NIC's
permanent MAC (the kernel's permanent address, also for a bond port, else its current MAC when
the driver has none, as veth). The management NIC is the network's ``nic``, or the first (by
name) of its bond's NICs.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from vdsm_net.model.kernel import KernelState

DMI_PRODUCT_UUID = "sys/class/dmi/id/product_uuid"
BOOT_ID = "proc/sys/kernel/random/boot_id"
_PLACEHOLDER = re.compile(r"^[0-]+$|^[f-]+$")


class IdentityError(ValueError):
    """No identity could be found (and none was given)."""


def _read(root: Path, rel: str) -> str:
    try:
        return (root / rel).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


def dmi_uuid(root: Path = Path("/")) -> str | None:
    """The DMI product UUID, or None when unreadable (it is root-only), malformed or a
    placeholder."""
    text = _read(root, DMI_PRODUCT_UUID).lower()
    if not text or _PLACEHOLDER.match(text):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def boot_id(root: Path = Path("/")) -> str:
    """The kernel's boot id: new at every boot, the same for every process of one boot."""
    return _read(root, BOOT_ID)


def mgmt_nic(spec: dict[str, Any] | None, mgmt: str) -> str | None:
    """The management network's NIC in a boot spec: its ``nic``, or its bond's first NIC."""
    if spec is None:
        return None
    attrs = spec.get("networks", {}).get(mgmt)
    if not isinstance(attrs, dict):
        return None
    if attrs.get("nic"):
        return str(attrs["nic"])
    bond = spec.get("bondings", {}).get(attrs.get("bonding"), {})
    nics = bond.get("nics") if isinstance(bond, dict) else None
    return sorted(str(n) for n in nics)[0] if nics else None


def permanent_mac(state: KernelState, nic: str) -> str | None:
    link = state.links.get(nic)
    if link is None:
        return None
    return (link.perm_mac or link.mac or "").lower() or None


def host_id(override: str | None, root: Path, state: KernelState, nic: str | None) -> str:
    """The host id; raises ``IdentityError`` when no source gives one."""
    if override:
        if "/" in override:
            raise IdentityError(f"--host-id {override!r}: no '/' in a host id")
        return override
    dmi = dmi_uuid(root)
    if dmi is not None:
        return dmi
    mac = permanent_mac(state, nic) if nic else None
    if mac:
        return mac
    raise IdentityError(
        "no host id: no readable DMI product UUID and no management NIC with a MAC "
        "(give --host-id)")


def nic_facts(state: KernelState, speed: Any) -> dict[str, dict[str, Any]]:
    """``{name: {"mac", "permMac", "speed"}}`` of every NIC; ``speed(name)`` gives Mb/s."""
    return {
        name: {"mac": link.mac or "", "permMac": link.perm_mac or link.mac or "",
               "speed": int(speed(name))}
        for name, link in sorted(state.links.items()) if link.kind == "nic"
    }
