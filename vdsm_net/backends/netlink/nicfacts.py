"""NIC facts for the capabilities: speed, duplex, driver and bus info (vdsm-wire §3.4).

- speed (Mb/s) and duplex come from ``<sysfs>/<nic>/{speed,duplex}``; 0 and "unknown" when the
  files are missing, unreadable (EINVAL while the link is down or the driver has no ethtool
  settings) or hold the kernel's "unknown" values (-1 / SPEED_UNKNOWN);
- driver and bus info come from the optional ``ethtool`` package (ETHTOOL_GDRVINFO) when it is
  importable, else from sysfs: the basename of ``device/driver`` and of ``device``.

``sysfs`` is /sys/class/net as seen from the NIC's namespace: the netlink backend passes a private
sysfs mounted from inside a named namespace. The ethtool package's ioctl uses a socket of the
calling thread's namespace, so it is only consulted for the caller's own namespace
(``use_ethtool``); in a named namespace driver and bus info always come from that sysfs.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import ModuleType

from vdsm_net.backends.base import NicFacts

SYSFS_NET = Path("/sys/class/net")
_SPEED_UNKNOWN = (0xFFFFFFFF, 0xFFFF)


def _ethtool() -> ModuleType | None:
    try:
        import ethtool
    except ImportError:
        return None
    module: ModuleType = ethtool
    return module


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def link_speed(name: str, sysfs: Path = SYSFS_NET) -> int:
    text = _read(sysfs / name / "speed")
    try:
        speed = int(text) if text is not None else 0
    except ValueError:
        return 0
    return 0 if speed < 0 or speed in _SPEED_UNKNOWN else speed


def link_duplex(name: str, sysfs: Path = SYSFS_NET) -> str:
    text = _read(sysfs / name / "duplex")
    return text if text in ("full", "half") else "unknown"


def driver_and_bus(name: str, sysfs: Path = SYSFS_NET, use_ethtool: bool = True) -> tuple[str, str]:
    module = _ethtool() if use_ethtool else None
    if module is not None:
        try:
            return str(module.get_module(name)), str(module.get_businfo(name))
        except OSError:
            pass  # no ETHTOOL_GDRVINFO for this device: sysfs below
    device = sysfs / name / "device"
    driver = ""
    bus = ""
    with contextlib.suppress(OSError):
        driver = os.path.basename(os.readlink(device / "driver"))
    with contextlib.suppress(OSError):
        bus = os.path.basename(os.readlink(device))
    return driver, bus


def read_nic_facts(name: str, sysfs: Path = SYSFS_NET) -> NicFacts:
    """Facts about one NIC; sysfs is the namespace's /sys/class/net."""
    driver, bus = driver_and_bus(name, sysfs, use_ethtool=sysfs == SYSFS_NET)
    return NicFacts(
        speed=link_speed(name, sysfs),
        duplex=link_duplex(name, sysfs),
        driver=driver,
        bus_info=bus,
    )
