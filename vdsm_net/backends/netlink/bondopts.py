"""Bond options through the bonding driver's sysfs files (/sys/class/net/<bond>/bonding/<opt>).

sysfs accepts every option by name or number and prints "name number" (we keep the last token),
which is linkopts' canonical form. pyroute2 0.9.7 does not encode several newer IFLA_BOND_*
attributes (ns_ip6_target, lacp_active, arp_missed_max, peer_notif_delay), hence sysfs.
``root`` is /sys/class/net as seen from the right namespace (``NetlinkWorker.sysfs_root``).
"""

from __future__ import annotations

from pathlib import Path

from vdsm_net.model import linkopts
from vdsm_net.model.desired import Pairs

_LISTS = ("arp_ip_target", "ns_ip6_target")


def _supported(option: str, mode: str) -> bool:
    return mode in linkopts.BOND_OPTION_MODES.get(option, linkopts.ALL_MODES)


def _read(root: Path, bond: str, option: str) -> str | None:
    try:
        text = (root / bond / "bonding" / option).read_text().strip()
    except OSError:
        return None
    if option in _LISTS:
        return ",".join(text.split())
    tokens = text.split()
    return tokens[-1] if tokens else ""


def read_bond_options(root: Path, bond: str) -> Pairs:
    """("mode", n) first, then the options that differ from the mode's defaults, sorted.

    Options the mode does not support are left out (the kernel keeps stale values for them)."""
    mode = _read(root, bond, "mode") or "0"
    defaults = linkopts.bond_defaults(mode)
    current: list[tuple[str, str]] = []
    for option in defaults:
        if not _supported(option, mode):
            continue
        value = _read(root, bond, option)
        if value is not None:
            current.append((option, value))
    return (("mode", mode), *linkopts.strip_bond_defaults(mode, current))


def _write(root: Path, bond: str, option: str, value: str) -> None:
    path = root / bond / "bonding" / option
    if option in _LISTS:
        old = _read(root, bond, option) or ""
        for address in filter(None, old.split(",")):
            path.write_text(f"-{address}")
        for address in filter(None, value.split(",")):
            path.write_text(f"+{address}")
        return
    path.write_text(value)


def write_bond_options(root: Path, bond: str, options: Pairs) -> None:
    """Make the bond's options exactly ``options`` (mode first; every other supported option not
    listed goes back to the mode's default). Raises OSError naming the option on a refusal."""
    wanted = dict(options)
    mode = linkopts.mode_number(wanted.pop("mode", "0"))
    if _read(root, bond, "mode") != mode:
        _guarded_write(root, bond, "mode", mode)
    defaults = linkopts.bond_defaults(mode)
    current = dict(read_bond_options(root, bond))
    current.pop("mode")
    changes: list[tuple[str, str]] = []
    for option, default in defaults.items():
        if not _supported(option, mode) and option not in wanted:
            continue  # an option the mode refuses is written only when asked for (and fails)
        target = wanted.get(option, default)
        if current.get(option, default) != target:
            changes.append((option, target))
    # switch things off before switching others on (miimon vs arp_interval, delays vs miimon)
    changes.sort(key=lambda kv: (kv[1] not in ("0", ""), kv[0] != "miimon"))
    for option, value in changes:
        _guarded_write(root, bond, option, value)


def _guarded_write(root: Path, bond: str, option: str, value: str) -> None:
    try:
        _write(root, bond, option, value)
    except OSError as exc:
        raise OSError(exc.errno, f"bond option {option}={value}: {exc.strerror}") from None
