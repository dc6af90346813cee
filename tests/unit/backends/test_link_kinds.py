"""The link kinds a kernel lacks, read from its module tree, and a request that needs one refused
with vdsm's code before any write, naming the module."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdsm_net.backends.kinds import missing_kinds, without_ovsdb
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_BONDING, ERR_BAD_PARAMS, ERR_BAD_VLAN, NetworkError

NOCHK = {"connectivityCheck": False}
REL = "6.1.0-test"


def _tree(
    tmp_path: Path, dep: str, builtin: str = "", loaded: tuple[str, ...] = ()
) -> dict[str, str]:
    mods = tmp_path / "lib" / REL
    mods.mkdir(parents=True)
    (mods / "modules.dep").write_text(dep)
    (mods / "modules.builtin").write_text(builtin)
    sysmod = tmp_path / "sys"
    sysmod.mkdir()
    for name in loaded:
        (sysmod / name).mkdir()
    return missing_kinds(REL, str(tmp_path / "lib"), str(sysmod))


def test_installed_builtin_or_loaded_modules_are_not_missing(tmp_path: Path) -> None:
    dep = ("kernel/drivers/net/bonding/bonding.ko.xz: kernel/net/tls/tls.ko.xz\n"
           "kernel/net/8021q/8021q.ko.zst: kernel/net/802/garp.ko\n")
    missing = _tree(tmp_path, dep, builtin="kernel/net/bridge/bridge.ko\n", loaded=("dummy",))
    assert missing == dict.fromkeys(("openvswitch", "ovs-bridge", "ovs-port"), "openvswitch")


def test_a_kernel_without_bonding_and_vlan(tmp_path: Path) -> None:
    missing = _tree(tmp_path, "kernel/net/bridge/bridge.ko:\n")
    assert missing == {"bond": "bonding", "vlan": "8021q", "dummy": "dummy",
                       "openvswitch": "openvswitch", "ovs-bridge": "openvswitch",
                       "ovs-port": "openvswitch"}


def test_no_module_tree_claims_nothing(tmp_path: Path) -> None:
    assert missing_kinds(REL, str(tmp_path / "none"), str(tmp_path / "sys")) == {}


@pytest.mark.parametrize(("networks", "bondings", "code", "module"), [
    ({"n": {"bonding": "bond0", "bridged": False}}, {"bond0": {"nics": ["eth0", "eth1"]}},
     ERR_BAD_BONDING, "bonding"),
    ({"n": {"nic": "eth0", "vlan": "10", "bridged": False}}, {}, ERR_BAD_VLAN, "8021q"),
])
def test_a_request_needing_a_missing_kind_is_refused_before_any_write(
    networks: dict[str, object], bondings: dict[str, object], code: int, module: str
) -> None:
    kernel = MemoryKernel(nics=("eth0", "eth1"))
    engine = Engine(kernel, missing_kinds={"bond": "bonding", "vlan": "8021q"})
    before = kernel.observe()
    with pytest.raises(NetworkError) as err:
        engine.setup(networks, bondings, NOCHK)
    assert err.value.code == code and f"module {module}" in err.value.message
    assert kernel.writes == 0 and kernel.observe() == before


def test_kinds_that_are_there_still_work() -> None:
    kernel = MemoryKernel(nics=("eth0", "eth1"))
    engine = Engine(kernel, missing_kinds={"bond": "bonding"})
    engine.setup({"n": {"nic": "eth0", "vlan": "10", "bridged": True}}, {}, NOCHK)
    assert "eth0.10" in kernel.observe().links


OVS_NET = {"n": {"nic": "eth0", "vlan": "10", "switch": "ovs", "bridged": True}}


@pytest.mark.parametrize(("missing", "says"), [
    (without_ovsdb({}), "--ovs-rundir"),
    ({"ovs-bridge": "openvswitch", "ovs-port": "openvswitch"}, "module openvswitch"),
])
def test_an_ovs_network_without_ovsdb_or_module_is_refused_before_any_write(
    missing: dict[str, str], says: str
) -> None:
    kernel = MemoryKernel(nics=("eth0", "eth1"))
    engine = Engine(kernel, missing_kinds=missing)
    before = kernel.observe()
    with pytest.raises(NetworkError) as err:
        engine.setup(OVS_NET, {}, NOCHK)
    assert err.value.code == ERR_BAD_PARAMS and says in err.value.message
    assert kernel.writes == 0 and kernel.observe() == before
    engine.setup({"m": {"nic": "eth1", "bridged": True}}, {}, NOCHK)  # legacy still works
    assert "m" in kernel.observe().links
