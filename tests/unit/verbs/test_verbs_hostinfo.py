"""Host facts parsed from a fake /proc + /sys tree, and the vdsm-netd process end to end."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rpc.client import Client, ServerError
from tests.unit.verbs.conftest import WAIT
from vdsm_net.verbs import schema as t
from vdsm_net.verbs.hostinfo import HostInfo, parse_cpu_list, split_kernel_release

CPUINFO = """processor\t: 0
model name\t: Fake CPU 9000
cpu MHz\t\t: 2100.000
flags\t\t: fpu vmx sse2

processor\t: 1
model name\t: Fake CPU 9000
cpu MHz\t\t: 2200.000
flags\t\t: fpu vmx sse2
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_host(root: Path) -> Path:
    write(root, "proc/cpuinfo", CPUINFO)
    write(root, "proc/meminfo", "MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    write(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n")
    write(root, "proc/stat", "cpu  1 2 3\nbtime 1700000000\n")
    write(root, "etc/os-release", 'NAME="Fake Linux"\nVERSION_ID="9.4"\n'
                                  'PRETTY_NAME="Fake Linux 9.4 (Test)"\n')
    write(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    write(root, "etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.1994-05.com.fake:abc\n")
    write(root, "sys/devices/system/cpu/online", "0-1,3\n")
    for cpu, (socket, core, node) in {0: (0, 0, 0), 1: (0, 1, 0), 3: (1, 0, 1)}.items():
        base = f"sys/devices/system/cpu/cpu{cpu}"
        write(root, f"{base}/topology/physical_package_id", f"{socket}\n")
        write(root, f"{base}/topology/core_id", f"{core}\n")
        write(root, f"{base}/topology/die_id", "0\n")
        (root / base / f"node{node}").mkdir()
    nodes = {0: ("0-1", 8192000, "10 21"), 1: ("3", 8192000, "21 10")}
    for node, (cpus, kb, dist) in nodes.items():
        base = f"sys/devices/system/node/node{node}"
        write(root, f"{base}/cpulist", cpus + "\n")
        write(root, f"{base}/meminfo", f"Node {node} MemTotal:       {kb} kB\n")
        write(root, f"{base}/distance", dist + "\n")
    write(root, "dev/kvm", "")
    return root


def test_host_facts_come_from_the_tree(tmp_path: Path) -> None:
    caps = HostInfo(fake_host(tmp_path)).capabilities()
    assert caps["cpuModel"] == "Fake CPU 9000" and caps["cpuFlags"] == "fpu,vmx,sse2"
    assert caps["cpuSpeed"] == "2100.000"
    assert (caps["cpuThreads"], caps["cpuCores"], caps["cpuSockets"]) == ("3", "3", "2")
    assert caps["onlineCpus"] == "0,1,3"
    assert caps["cpuTopology"][2] == {"cpu_id": 3, "numa_cell_id": 1, "socket_id": 1,
                                      "die_id": 0, "core_id": 0}
    assert caps["memSize"] == "16000"
    assert caps["numaNodes"] == {"0": {"cpus": [0, 1], "totalMemory": "8000"},
                                 "1": {"cpus": [3], "totalMemory": "8000"}}
    assert caps["numaNodeDistance"] == {"0": [10, 21], "1": [21, 10]}
    assert caps["kernelArgs"] == "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet"
    assert caps["bootTime"] == "1700000000"
    assert caps["operatingSystem"] == {"name": "Fake Linux", "version": "9.4", "release": "",
                                       "pretty_name": "Fake Linux 9.4 (Test)"}
    assert caps["uuid"] == "01234567-89ab-cdef-0123-456789abcdef"  # no DMI: the machine id
    assert caps["kvmEnabled"] == "true"
    assert caps["ISCSIInitiatorName"] == "iqn.1994-05.com.fake:abc"
    assert caps["HBAInventory"] == {"iSCSI": [{"InitiatorName": "iqn.1994-05.com.fake:abc"}],
                                    "FC": []}


def test_dmi_uuid_wins_and_missing_facts_are_honestly_empty(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/dmi/id/product_uuid", "4C4C4544-0000-1000-8000-000000000001\n")
    caps = HostInfo(tmp_path).capabilities()
    assert caps["uuid"] == "4c4c4544-0000-1000-8000-000000000001"
    assert caps["kvmEnabled"] == "false" and caps["numaNodes"] == {}
    assert caps["HBAInventory"] == {"iSCSI": [], "FC": []} and caps["ISCSIInitiatorName"] == ""
    assert caps["memSize"] == "0" and caps["cpuModel"] == "" and caps["kernelArgs"] == ""


def test_cached_facts_are_read_once_and_dynamic_ones_every_time(tmp_path: Path) -> None:
    info = HostInfo(fake_host(tmp_path))
    first = info.capabilities()
    write(tmp_path, "proc/cmdline", "changed\n")
    write(tmp_path, "sys/devices/system/cpu/online", "0\n")
    again = info.capabilities()
    assert again["kernelArgs"] == first["kernelArgs"]
    assert again["onlineCpus"] == "0" and again["cpuThreads"] == "1"


def test_parsers() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("") == []
    assert split_kernel_release("6.1.0-18-amd64") == ("6.1.0", "18-amd64")
    assert split_kernel_release("6.9.1") == ("6.9.1", "")


def test_real_host_caps_pass_the_type_checker() -> None:
    caps = HostInfo().capabilities()
    t.check({**caps, **EMPTY_NET}, t.CAPS)
    assert caps["packages2"]["kernel"]["version"] == split_kernel_release(platform.release())[0]


EMPTY_NET = {"networks": {}, "bridges": {}, "nics": {}, "vlans": {}, "bondings": {},
             "nameservers": [], "supportsIPv6": True, "netConfigDirty": "False",
             "lastClientIface": "", "hooks": {}}


def test_vdsm_netd_process_with_hooks_dir(tmp_path: Path, verbs_pki: Path) -> None:
    """The agent process on the simulated kernel: --hooks-dir is wired and hooks are listed."""
    hook = tmp_path / "hooks" / "before_network_setup" / "10_noop"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    bindir = Path(sys.executable).parent
    log = tmp_path / "agent.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(bindir / "vdsm-netd"), "--backend", "memory", "--nics", "eth0,eth1",
             "--listen", "127.0.0.1:0", "--pki", str(verbs_pki), "--hooks-dir",
             str(tmp_path / "hooks")],
            stderr=out,
        )
    try:
        port = _listening_port(proc, log)
        with Client.connect("127.0.0.1", port, pki_dir=verbs_pki, timeout=WAIT) as cli:
            caps = _when_ready(cli)
            assert list(caps["hooks"]) == ["before_network_setup"]
            assert list(caps["hooks"]["before_network_setup"]) == ["10_noop"]
            assert cli.call("Host.setupNetworks", {
                "networks": {"n": {"nic": "eth1"}}, "bondings": {},
                "options": {"connectivityCheck": "false"}}) == {"code": 0, "message": "Done"}
            assert "n" in cli.call("Host.getNetworkCapabilities")["networks"]
    finally:
        proc.terminate()
        proc.wait(WAIT)
    assert proc.returncode == 0


def _listening_port(proc: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"listening on .*:(\d+)", log.read_text())
        if found:
            return int(found.group(1))
        time.sleep(0.02)
    pytest.fail(f"vdsm-netd never logged 'listening on': {log.read_text()}")


def _when_ready(cli: Client) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            caps: dict[str, Any] = cli.call("Host.getCapabilities")
            t.check(caps, t.CAPS)
            return caps
        except ServerError as exc:
            assert exc.code == 99 and time.monotonic() < deadline
            time.sleep(0.05)
