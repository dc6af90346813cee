"""The verbs' result shapes, typed: vdsm-wire's type conventions (§3.4, §3.6, §6) as TypedDicts.

This is the one schema. mypy holds the builders (``caps``, ``stats``, ``hostinfo``, the verbs of
``api``) to it; ``schema`` derives the runtime checks from it for the tests and the client's help.
A value rule that a Python type cannot say rides along as ``Annotated[T, Check]`` (a numeric
string, a comma list of ids); a fixed value is a ``Literal``. The shapes of other rooms are
defined where they are built and named here: ``HostQosReport`` (engine.qos), ``DriftWire``
(drift.monitor), ``LldpReport`` (lldp.tlv).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from vdsm_net.drift.monitor import DriftWire
from vdsm_net.engine.qos import DeviceQosReport, HostQosReport
from vdsm_net.lldp.tlv import LldpReport


@dataclass(frozen=True)
class Check:
    """A named predicate on a value, for what its type alone does not say."""

    name: str
    ok: Callable[[Any], bool]


def _is_num_str(v: Any) -> bool:
    return isinstance(v, str) and v.lstrip("-").isdigit()


NumStr = Annotated[str, Check("numeric string", _is_num_str)]
Cidr = Annotated[str, Check("addr/prefixlen", lambda v: isinstance(v, str) and "/" in v)]
Ipv6Gateway = Annotated[str, Check("IPv6 gateway ('::' when none)",
                                   lambda v: isinstance(v, str) and ":" in v)]
OnOff = Literal["on", "off"]
TrueFalse = Literal["True", "False"]  # Python's str(bool), as vdsm sends it
BoolStr = Literal["true", "false"]
UpDown = Literal["up", "down"]
BondOpts = Annotated[dict[str, str], Check(
    "bond opts: str->numeric-ish str with mode",
    lambda v: isinstance(v, dict) and _is_num_str(v.get("mode"))
    and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()))]


class DevInfo(TypedDict):
    """The fields common to every nic, bond, vlan, bridge and network entry."""

    addr: str
    netmask: str
    ipv4addrs: list[Cidr]
    ipv6addrs: list[Cidr]
    gateway: str
    ipv6gateway: Ipv6Gateway
    ipv4defaultroute: bool
    mtu: NumStr
    dhcpv4: bool
    dhcpv6: bool
    ipv6autoconf: bool


class NicCaps(DevInfo):
    hwaddr: str
    speed: int
    permhwaddr: NotRequired[str]
    ad_aggregator_id: NotRequired[NumStr]
    qos: NotRequired[list[DeviceQosReport]]


class BondCaps(DevInfo):
    hwaddr: str
    slaves: list[str]
    active_slave: str
    opts: BondOpts
    switch: str
    speed: int
    ad_aggregator_id: NotRequired[NumStr]
    ad_partner_mac: NotRequired[str]
    qos: NotRequired[list[DeviceQosReport]]


class VlanCaps(DevInfo):
    iface: str
    vlanid: int


class BridgeCaps(DevInfo):
    ports: list[str]
    stp: OnOff
    opts: dict[str, str]


class _NetCaps(DevInfo):
    iface: str
    switch: str
    vlanid: NotRequired[int]
    hostQos: NotRequired[HostQosReport]


class BridgedNetCaps(_NetCaps):
    bridged: Literal[True]
    ports: list[str]
    stp: OnOff
    southbound: str | None  # None when the southbound device is not a port of the bridge


class BridgelessNetCaps(_NetCaps):
    bridged: Literal[False]
    interface: str
    southbound: str


class NetworkCaps(TypedDict):
    """``Host.getNetworkCapabilities``."""

    networks: dict[str, BridgedNetCaps | BridgelessNetCaps]
    bridges: dict[str, BridgeCaps]
    nics: dict[str, NicCaps]
    vlans: dict[str, VlanCaps]
    bondings: dict[str, BondCaps]
    nameservers: list[str]
    supportsIPv6: bool
    netConfigDirty: TrueFalse
    driftReport: NotRequired[DriftWire]  # extension, with --drift report|enforce


class CpuTopology(TypedDict):
    cpu_id: int
    numa_cell_id: int
    socket_id: int
    die_id: int
    core_id: int


class PackageVersion(TypedDict):
    version: str
    release: str


class Packages(TypedDict):
    vdsm: PackageVersion
    kernel: PackageVersion


class OperatingSystem(TypedDict):
    name: str
    version: str
    release: str
    pretty_name: str


class IscsiInitiator(TypedDict):
    InitiatorName: str


class HbaInventory(TypedDict):
    iSCSI: list[IscsiInitiator]
    FC: list[Any]


class NumaNode(TypedDict):
    cpus: list[int]
    totalMemory: NumStr


class SelinuxMode(TypedDict):
    mode: NumStr


class HookScript(TypedDict):
    checksum: Annotated[str, Check("sha256 hex", lambda v: isinstance(v, str) and len(v) == 64)]


class HostStatic(TypedDict):
    """The host facts of getCapabilities that do not change while the agent runs."""

    version_name: str
    software_version: str
    software_revision: str
    supportedENGINEs: list[str]
    clusterLevels: list[str]
    packages2: Packages
    operatingSystem: OperatingSystem
    uuid: str
    cpuModel: str
    cpuFlags: str
    memSize: NumStr
    reservedMem: NumStr
    guestOverhead: NumStr
    kernelArgs: str
    bootTime: str
    realtimeKernel: bool
    fipsEnabled: bool
    ISCSIInitiatorName: str
    HBAInventory: HbaInventory
    numaNodeDistance: dict[str, list[int]]


class HostDynamic(TypedDict):
    """The host facts of getCapabilities that are read again on each call."""

    kvmEnabled: BoolStr
    cpuCores: NumStr
    cpuThreads: NumStr
    cpuSockets: NumStr
    onlineCpus: Annotated[str, Check("comma list of ids", lambda v: isinstance(v, str) and all(
        p.isdigit() for p in v.split(",")))]
    cpuTopology: list[CpuTopology]
    cpuSpeed: str
    numaNodes: dict[str, NumaNode]
    autoNumaBalancing: int
    nestedVirtualization: bool
    selinux: SelinuxMode
    kdumpStatus: int
    hostdevPassthrough: BoolStr
    vdsmToCpusAffinity: list[int]
    rngSources: list[str]


class AbsentFeatures(TypedDict):
    """Virt, storage and feature keys of vdsm's caps: this agent runs no VMs and no storage, so
    every one says "not here" in the type the engine expects."""

    vmTypes: list[str]
    emulatedMachines: list[str]
    hugepages: dict[str, Any]
    kernelFeatures: dict[str, Any]
    additionalFeatures: list[str]
    hostedEngineDeployed: bool
    vncEncrypted: bool
    tscFrequency: str
    tscScaling: bool
    boot_uuid: str
    connector_info: dict[str, Any]
    openstack_binding_host_ids: dict[str, Any]
    ovnConfigured: bool
    liveSnapshot: BoolStr
    liveMerge: BoolStr
    deferred_preallocation: bool
    backupEnabled: bool
    coldBackupEnabled: bool
    clearBitmapsEnabled: bool
    domain_versions: list[int]
    supported_block_size: dict[str, Any]
    cd_change_pdiv: bool
    refresh_disk_supported: bool
    replicate_extend: bool
    measure_subchain: bool
    measure_active: bool
    mailbox_events: bool
    zerocopy_migrations: bool
    qemu_image_info_bitmaps: bool


class HostCaps(HostStatic, HostDynamic, AbsentFeatures):
    """Every host key of getCapabilities (the network keys are ``NetworkCaps``)."""


class Caps(NetworkCaps, HostCaps):
    """``Host.getCapabilities``."""

    hooks: dict[str, dict[str, HookScript]]
    lastClientIface: str


class IfaceStats(TypedDict):
    name: str
    rx: NumStr
    tx: NumStr
    rxDropped: NumStr
    txDropped: NumStr
    rxErrors: NumStr
    txErrors: NumStr
    state: UpDown
    speed: NumStr
    duplex: str
    sampleTime: float


class NetworkStatistics(TypedDict):
    """``Host.getNetworkStatistics``: the drop totals as numbers."""

    network: dict[str, IfaceStats]
    rxDropped: int
    txDropped: int


class HostStats(TypedDict):
    """The network part of ``Host.getStats``: the drop totals as strings."""

    network: dict[str, IfaceStats]
    rxDropped: NumStr
    txDropped: NumStr
    netConfigDirty: TrueFalse


class Done(TypedDict):
    code: Literal[0]
    message: Literal["Done"]


class SetupDone(Done):
    """``Host.setupNetworks``; ``keptInUse`` (extension) with ``fullState``."""

    keptInUse: NotRequired[dict[str, list[str]]]


PlannedOp = Annotated[dict[str, Any], Check(
    "an op: {op, its own fields}", lambda v: isinstance(v, dict) and isinstance(v.get("op"), str))]


class Plan(TypedDict):
    """``Host.planNetworks`` (extension)."""

    plan: list[PlannedOp]


class CheckReport(TypedDict):
    """``Host.checkNetworks`` (extension)."""

    differences: list[str]
    networks: list[str]


REPLIES: dict[str, Any] = {
    "Host.ping": Literal[True],
    "Host.ping2": Literal[True],
    "Host.confirmConnectivity": Literal[True],
    "Host.setupNetworks": SetupDone,
    "Host.setSafeNetworkConfig": Literal[True],
    "Host.planNetworks": Plan,
    "Host.checkNetworks": CheckReport,
    "Host.getNetworkCapabilities": NetworkCaps,
    "Host.getCapabilities": Caps,
    "Host.getStats": HostStats,
    "Host.getNetworkStatistics": NetworkStatistics,
    "Host.getLldp": LldpReport,
}
"""Each verb's reply type."""
