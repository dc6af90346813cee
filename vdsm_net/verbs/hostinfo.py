"""The host part of ``Host.getCapabilities``, read from the host itself (vdsm-wire §6).

Nothing is invented: CPU facts come from /proc/cpuinfo and /sys/devices/system/cpu, memory from
/proc/meminfo, NUMA from /sys/devices/system/node, the OS from /etc/os-release, the host UUID
from DMI when readable (else /etc/machine-id), kvmEnabled from /dev/kvm. Where this agent or the
host has nothing (no libvirt, no storage), the key is present with an honest empty value.
The version keys (``supportedENGINEs``, ``clusterLevels``) are vdsm's for a host without libvirt
>= 8.0, so no 4.7/4.8 cluster level is claimed.

``reservedMem`` and ``guestOverhead`` are vdsm's configuration defaults (256 + 65 MB, 65 MB):
policy an engine schedules with, not host facts.

Facts that cannot change while the agent runs are read once and cached; the rest is re-read on
every call. Every path is under ``root`` so tests can point it at a fake tree.
"""

from __future__ import annotations

import copy
import functools
import os
import platform
import re
import uuid
from pathlib import Path

from vdsm_net import __version__
from vdsm_net.cluster.identity import dmi_uuid
from vdsm_net.verbs.shapes import (
    AbsentFeatures,
    BoolStr,
    CpuTopology,
    HostCaps,
    HostDynamic,
    HostStatic,
    NumaNode,
    OperatingSystem,
    Packages,
)

SUPPORTED_ENGINES = ["4.2", "4.3", "4.4", "4.5"]
CLUSTER_LEVELS = ["4.2", "4.3", "4.4", "4.5", "4.6"]
VERSION_NAME = "vdsm-net"
RESERVED_MEM = "321"
GUEST_OVERHEAD = "65"
AUTO_NUMA_UNKNOWN = 2

_CPU_DIR = re.compile(r"^cpu(\d+)$")
_NODE_DIR = re.compile(r"^node(\d+)$")


def parse_cpu_list(text: str) -> list[int]:
    """The kernel's cpu list format, "0-3,8,10-11", as sorted ids."""
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        out.update(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    return sorted(out)


def parse_key_values(text: str, sep: str = ":") -> dict[str, str]:
    """``key<sep>value`` lines; the first occurrence of a key wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, found, value = line.partition(sep)
        if found:
            out.setdefault(key.strip(), value.strip())
    return out


def parse_os_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in parse_key_values(text, "=").items():
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def split_kernel_release(release: str) -> tuple[str, str]:
    """``6.1.0-18-amd64`` -> ("6.1.0", "18-amd64"); vdsm's packages2.kernel form."""
    version, _, rel = release.partition("-")
    return version, rel


class HostInfo:
    """Reads host facts under ``root`` (``/`` on a real host)."""

    def __init__(self, root: str | Path = "/", host_id: str | None = None) -> None:
        self.root = Path(root)
        self.host_id = host_id  # the agent's host identity (vdsm_net.cluster.identity)

    # -- reading -------------------------------------------------------------------------
    def _path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    def _read(self, rel: str) -> str | None:
        try:
            return self._path(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def _read_int(self, rel: str, default: int) -> int:
        text = self._read(rel)
        try:
            return int(text.strip()) if text is not None else default
        except ValueError:
            return default

    def _listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(rel)))
        except OSError:
            return []

    # -- static facts (cached) -----------------------------------------------------------
    @functools.cached_property
    def _cpuinfo(self) -> dict[str, str]:
        """The first processor's block of /proc/cpuinfo."""
        text = self._read("/proc/cpuinfo") or ""
        return parse_key_values(text.split("\n\n", 1)[0])

    @functools.cached_property
    def _os_release(self) -> dict[str, str]:
        return parse_os_release(
            self._read("/etc/os-release") or self._read("/usr/lib/os-release") or ""
        )

    @functools.cached_property
    def mem_total_mb(self) -> int:
        meminfo = parse_key_values(self._read("/proc/meminfo") or "")
        fields = meminfo.get("MemTotal", "0 kB").split()
        return int(fields[0]) // 1024 if fields and fields[0].isdigit() else 0

    @functools.cached_property
    def host_uuid(self) -> str:
        """The agent's host id when it has one, else DMI's product UUID, else machine-id."""
        if self.host_id:
            return self.host_id
        dmi = dmi_uuid(self.root)
        if dmi is not None:
            return dmi
        machine_id = (self._read("/etc/machine-id") or "").strip()
        try:
            return str(uuid.UUID(hex=machine_id))
        except ValueError:
            return ""

    @functools.cached_property
    def iscsi_initiator(self) -> str:
        text = self._read("/etc/iscsi/initiatorname.iscsi") or ""
        return parse_key_values(text, "=").get("InitiatorName", "")

    def operating_system(self) -> OperatingSystem:
        osr = self._os_release
        return {
            "name": osr.get("NAME", platform.system()),
            "version": osr.get("VERSION_ID", ""),
            "release": osr.get("BUILD_ID", ""),
            "pretty_name": osr.get("PRETTY_NAME", osr.get("NAME", "")),
        }

    def packages(self) -> Packages:
        kversion, krelease = split_kernel_release(platform.release())
        return {
            "vdsm": {"version": __version__, "release": "0"},
            "kernel": {"version": kversion, "release": krelease},
        }

    @functools.cached_property
    def _static(self) -> HostStatic:
        flags = self._cpuinfo.get("flags", self._cpuinfo.get("Features", "")).split()
        initiator = self.iscsi_initiator
        return {
            "version_name": VERSION_NAME,
            "software_version": __version__,
            "software_revision": "0",
            "supportedENGINEs": list(SUPPORTED_ENGINES),
            "clusterLevels": list(CLUSTER_LEVELS),
            "packages2": self.packages(),
            "operatingSystem": self.operating_system(),
            "uuid": self.host_uuid,
            "cpuModel": self._cpuinfo.get("model name", self._cpuinfo.get("cpu model", "")),
            "cpuFlags": ",".join(flags),
            "memSize": str(self.mem_total_mb),
            "reservedMem": RESERVED_MEM,
            "guestOverhead": GUEST_OVERHEAD,
            "kernelArgs": (self._read("/proc/cmdline") or "").strip(),
            "bootTime": self._boot_time(),
            "realtimeKernel": self._read_int("/sys/kernel/realtime", 0) == 1,
            "fipsEnabled": self._read_int("/proc/sys/crypto/fips_enabled", 0) == 1,
            "ISCSIInitiatorName": initiator,
            "HBAInventory": {
                "iSCSI": [{"InitiatorName": initiator}] if initiator else [],
                "FC": [],
            },
            "numaNodeDistance": self._numa_distance(),
        }

    def _boot_time(self) -> str:
        stat = parse_key_values(self._read("/proc/stat") or "", " ")
        return stat.get("btime", "")

    # -- CPU and NUMA (re-read: CPUs can go on- and offline) -----------------------------
    def online_cpus(self) -> list[int]:
        text = self._read("/sys/devices/system/cpu/online")
        if text is not None:
            return parse_cpu_list(text)
        return list(range(os.cpu_count() or 1))

    def _cpu_node(self, cpu: int) -> int:
        for entry in self._listdir(f"/sys/devices/system/cpu/cpu{cpu}"):
            m = _NODE_DIR.match(entry)
            if m:
                return int(m.group(1))
        return 0

    def cpu_topology(self) -> list[CpuTopology]:
        out: list[CpuTopology] = []
        for cpu in self.online_cpus():
            topo = f"/sys/devices/system/cpu/cpu{cpu}/topology"
            out.append({
                "cpu_id": cpu,
                "numa_cell_id": self._cpu_node(cpu),
                "socket_id": self._read_int(f"{topo}/physical_package_id", 0),
                "die_id": self._read_int(f"{topo}/die_id", 0),
                "core_id": self._read_int(f"{topo}/core_id", cpu),
            })
        return out

    def numa_nodes(self) -> dict[str, NumaNode]:
        out: dict[str, NumaNode] = {}
        for entry in self._listdir("/sys/devices/system/node"):
            m = _NODE_DIR.match(entry)
            if not m:
                continue
            base = f"/sys/devices/system/node/{entry}"
            meminfo = self._read(f"{base}/meminfo") or ""
            total = re.search(r"MemTotal:\s+(\d+)\s*kB", meminfo)
            out[m.group(1)] = {
                "cpus": parse_cpu_list(self._read(f"{base}/cpulist") or ""),
                "totalMemory": str(int(total.group(1)) // 1024) if total else "0",
            }
        return out

    def _numa_distance(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for entry in self._listdir("/sys/devices/system/node"):
            m = _NODE_DIR.match(entry)
            text = self._read(f"/sys/devices/system/node/{entry}/distance") if m else None
            if m and text is not None:
                out[m.group(1)] = [int(x) for x in text.split()]
        return out

    def _cpu_speed(self) -> str:
        mhz = self._read("/proc/cpuinfo") or ""
        found = re.search(r"^cpu MHz\s*:\s*([\d.]+)", mhz, re.MULTILINE)
        if found:
            return found.group(1)
        khz = self._read_int("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", 0)
        return f"{khz / 1000:.3f}" if khz else ""

    def _nested(self) -> bool:
        for module in ("kvm_intel", "kvm_amd"):
            value = (self._read(f"/sys/module/{module}/parameters/nested") or "").strip()
            if value in ("Y", "1"):
                return True
        return False

    def _selinux_mode(self) -> str:
        enforce = self._read("/sys/fs/selinux/enforce")
        return enforce.strip() if enforce is not None else "-1"

    def _kdump_status(self) -> int:
        return self._read_int("/sys/kernel/kexec_crash_loaded", -1)

    def _affinity(self) -> list[int]:
        try:
            return sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return self.online_cpus()

    def dynamic(self) -> HostDynamic:
        topology = self.cpu_topology()
        online = [t["cpu_id"] for t in topology]
        cores = {(t["socket_id"], t["die_id"], t["core_id"]) for t in topology}
        sockets = {t["socket_id"] for t in topology}
        rng = ["random"] if self._path("/dev/random").exists() else []
        if self._path("/dev/hwrng").exists():
            rng.append("hwrng")
        return {
            "kvmEnabled": _bool_str(self._path("/dev/kvm").exists()),
            "cpuCores": str(len(cores)),
            "cpuThreads": str(len(online)),
            "cpuSockets": str(len(sockets)),
            "onlineCpus": ",".join(str(c) for c in online),
            "cpuTopology": topology,
            "cpuSpeed": self._cpu_speed(),
            "numaNodes": self.numa_nodes(),
            "autoNumaBalancing": self._read_int(
                "/proc/sys/kernel/numa_balancing", AUTO_NUMA_UNKNOWN
            ),
            "nestedVirtualization": self._nested(),
            "selinux": {"mode": self._selinux_mode()},
            "kdumpStatus": self._kdump_status(),
            "hostdevPassthrough": _bool_str(bool(self._listdir("/sys/class/iommu"))),
            "vdsmToCpusAffinity": self._affinity(),
            "rngSources": rng,
        }

    def capabilities(self) -> HostCaps:
        """Every host key of getCapabilities (the network keys come from caps.py)."""
        return {**copy.deepcopy(self._static), **self.dynamic(),
                **copy.deepcopy(ABSENT_FEATURES)}


def _bool_str(value: bool) -> BoolStr:
    return "true" if value else "false"


ABSENT_FEATURES: AbsentFeatures = {
    # Virt, storage and feature keys of vdsm's caps: this agent runs no VMs and no storage, so
    # every one says "not here" in the type the engine expects.
    "vmTypes": ["kvm"],
    "emulatedMachines": [],
    "hugepages": {},
    "kernelFeatures": {},
    "additionalFeatures": [],
    "hostedEngineDeployed": False,
    "vncEncrypted": False,
    "tscFrequency": "",
    "tscScaling": False,
    "boot_uuid": "",
    "connector_info": {},
    "openstack_binding_host_ids": {},
    "ovnConfigured": False,
    "liveSnapshot": "false",
    "liveMerge": "false",
    "deferred_preallocation": False,
    "backupEnabled": False,
    "coldBackupEnabled": False,
    "clearBitmapsEnabled": False,
    "domain_versions": [],
    "supported_block_size": {},
    "cd_change_pdiv": False,
    "refresh_disk_supported": False,
    "replicate_extend": False,
    "measure_subchain": False,
    "measure_active": False,
    "mailbox_events": False,
    "zerocopy_migrations": False,
    "qemu_image_info_bitmaps": False,
}
