"""Host identity: --host-id, DMI product UUID, the management NIC's permanent MAC; caps' uuid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cluster.identity import (
    IdentityError,
    boot_id,
    dmi_uuid,
    host_id,
    mgmt_nic,
    nic_facts,
    permanent_mac,
)
from vdsm_net.engine.engine import Engine
from vdsm_net.model.kernel import KernelState, Link
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.hostinfo import HostInfo

DMI = "4C4C4544-0042-3510-8052-B4C04F4B4E31"
STATE = KernelState(links={
    "eth0": Link("eth0", "nic", mac="52:54:00:aa:00:01", perm_mac="52:54:00:aa:00:01"),
    # enslaved to a bond: the current MAC is the bond's, the permanent one is its own
    "eth1": Link("eth1", "nic", master="bond0", mac="52:54:00:aa:00:01",
                 perm_mac="52:54:00:aa:00:02"),
    "veth3": Link("veth3", "nic", mac="AA:BB:CC:00:00:03"),  # no permanent address (veth)
    "bond0": Link("bond0", "bond", mac="52:54:00:aa:00:01"),
})
SPEC: dict[str, Any] = {
    "networks": {"ovirtmgmt": {"bonding": "bond0"}, "other": {"nic": "veth3"}},
    "bondings": {"bond0": {"nics": ["eth1", "eth0"]}},
}


def dmi_root(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sys/class/dmi/id/product_uuid"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return tmp_path


def test_override_wins_over_dmi(tmp_path: Path) -> None:
    assert host_id("node-7", dmi_root(tmp_path, DMI), STATE, "eth0") == "node-7"


def test_override_with_a_slash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="no '/'"):
        host_id("a/b", tmp_path, STATE, "eth0")


def test_dmi_is_lower_case(tmp_path: Path) -> None:
    assert host_id(None, dmi_root(tmp_path, DMI + "\n"), STATE, "eth0") == DMI.lower()


@pytest.mark.parametrize("text", [
    "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "Not Settable", "",
])
def test_dmi_placeholders_fall_back_to_the_mac(tmp_path: Path, text: str) -> None:
    root = dmi_root(tmp_path, text)
    assert dmi_uuid(root) is None
    assert host_id(None, root, STATE, "eth1") == "52:54:00:aa:00:02"


def test_no_dmi_file_falls_back_to_the_permanent_mac_not_the_bond_mac(tmp_path: Path) -> None:
    assert host_id(None, tmp_path, STATE, mgmt_nic(SPEC, "ovirtmgmt")) == "52:54:00:aa:00:01"
    assert permanent_mac(STATE, "eth1") == "52:54:00:aa:00:02"


def test_a_nic_without_a_permanent_address_gives_its_mac(tmp_path: Path) -> None:
    assert host_id(None, tmp_path, STATE, "veth3") == "aa:bb:cc:00:00:03"


def test_nothing_to_go_by_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="give --host-id"):
        host_id(None, tmp_path, STATE, None)
    with pytest.raises(IdentityError):
        host_id(None, tmp_path, STATE, "eth9")


def test_mgmt_nic_of_a_spec() -> None:
    assert mgmt_nic(SPEC, "ovirtmgmt") == "eth0"  # the bond's first NIC by name
    assert mgmt_nic(SPEC, "other") == "veth3"
    assert mgmt_nic(SPEC, "absent") is None
    assert mgmt_nic(None, "ovirtmgmt") is None


def test_boot_id_and_nic_facts(tmp_path: Path) -> None:
    path = tmp_path / "proc/sys/kernel/random/boot_id"
    path.parent.mkdir(parents=True)
    path.write_text("6f1e3c1a-0000-4000-8000-000000000001\n")
    assert boot_id(tmp_path) == "6f1e3c1a-0000-4000-8000-000000000001"
    facts = nic_facts(STATE, lambda name: {"eth0": 10000}.get(name, 0))
    assert facts == {
        "eth0": {"mac": "52:54:00:aa:00:01", "permMac": "52:54:00:aa:00:01", "speed": 10000},
        "eth1": {"mac": "52:54:00:aa:00:01", "permMac": "52:54:00:aa:00:02", "speed": 0},
        "veth3": {"mac": "AA:BB:CC:00:00:03", "permMac": "AA:BB:CC:00:00:03", "speed": 0},
    }


def test_caps_uuid_reports_the_host_id(tmp_path: Path) -> None:
    root = dmi_root(tmp_path, DMI)
    api = HostApi(Engine(MemoryKernel(nics=["eth0"])), host=HostInfo(root, host_id="node-7"))
    assert api.get_capabilities()["uuid"] == "node-7"
    assert HostInfo(root).capabilities()["uuid"] == DMI.lower()
