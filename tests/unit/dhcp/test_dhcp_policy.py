"""Client specs, SLAAC sysctls, the hook's lease parsing, and the nameservers policy."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from vdsm_net.dynamic.dhcp import DhcpManager, client_specs, slaac_settings
from vdsm_net.dynamic.dhcp_hook import lease_from_env
from vdsm_net.dynamic.dns import apply_nameservers, desired_nameservers, runtime_only
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.engine.render import source_tables
from vdsm_net.model.desired import Network, RunningConfig
from vdsm_net.model.kernel import MAIN_TABLE

MGMT = Network("mgmt", nic="eth0", bootproto="dhcp", default_route=True)
DATA = Network("data", nic="eth1", vlan=7, bridged=False, bootproto="dhcp")
STATIC = Network("st", nic="eth2", ipaddr="10.0.0.2", netmask="255.0.0.0", ipv6autoconf=True)


def test_one_client_per_dhcp_top_device_in_main_or_source_table() -> None:
    config = RunningConfig(networks={"mgmt": MGMT, "data": DATA, "st": STATIC})
    specs = client_specs(config)
    assert sorted(specs) == ["eth1.7", "mgmt"]
    assert specs["mgmt"].table == MAIN_TABLE
    assert specs["eth1.7"].table == source_tables(config)["data"] != MAIN_TABLE


def test_slaac_sysctls_follow_ipv6autoconf() -> None:
    config = RunningConfig(networks={"mgmt": MGMT, "st": STATIC})
    assert slaac_settings(config) == {"mgmt": (0, 0), "st": (1, 2)}


def test_hook_reads_udhcpc_environment() -> None:
    env = {"interface": "mgmt", "ip": "192.0.2.5", "subnet": "255.255.255.0",
           "router": "192.0.2.1 192.0.2.2", "dns": "192.0.2.53 192.0.2.54", "lease": "120"}
    assert lease_from_env(env, 254) == {
        "interface": "mgmt", "address": "192.0.2.5/24", "router": "192.0.2.1",
        "dns": ["192.0.2.53", "192.0.2.54"], "lease": 120, "table": 254}
    assert lease_from_env({"interface": "mgmt"}, 254) is None


def test_run_dir_must_be_runtime_only() -> None:
    with pytest.raises(ValueError):
        DhcpManager("/var/lib/vdsm-net")
    assert DhcpManager("/tmp/vdsm-net-x").clients() == {}


def test_nameservers_explicit_lease_or_untouched() -> None:
    explicit = Network("mgmt", nic="eth0", default_route=True, nameservers=("1.1.1.1",))
    assert desired_nameservers(RunningConfig(networks={"mgmt": explicit}), {}) == (
        "mgmt", ["1.1.1.1"])
    leases = {"mgmt": {"dns": ["192.0.2.53"]}}
    auto = RunningConfig(networks={"mgmt": MGMT})
    assert desired_nameservers(auto, leases) == ("mgmt", ["192.0.2.53"])
    assert desired_nameservers(auto, {}) == ("mgmt", None)  # no lease yet: leave it
    cleared = Network("mgmt", nic="eth0", default_route=True)
    assert desired_nameservers(RunningConfig(networks={"mgmt": cleared}), {}) == ("mgmt", [])
    assert desired_nameservers(RunningConfig(networks={"data": DATA}), leases) == (None, None)


def test_resolver_written_only_under_a_runtime_root(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "resolv.conf").write_text("nameserver 9.9.9.9\n")
    link = tmp_path / "resolv.conf"
    os.symlink(run / "resolv.conf", link)
    roots = (str(run) + "/",)
    none = str(tmp_path / "no-resolved")
    assert runtime_only(str(link), roots) and not runtime_only(str(tmp_path / "x"), roots)
    assert apply_nameservers("mgmt", ["192.0.2.53"], str(link), roots, none) == "written"
    assert link.is_symlink() and host_nameservers(str(link)) == ["192.0.2.53"]
    assert apply_nameservers("mgmt", [], str(link), roots, none) == "written"
    assert host_nameservers(str(link)) == []
    assert apply_nameservers("mgmt", None, str(link), roots, none) == "unchanged"

    persistent = tmp_path / "etc-resolv.conf"
    persistent.write_text("nameserver 9.9.9.9\n")
    assert apply_nameservers("mgmt", ["1.1.1.1"], str(persistent), roots, none) == "refused"
    assert persistent.read_text() == "nameserver 9.9.9.9\n"


def test_caps_resolver_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("search x\nnameserver 192.0.2.9\n")
    monkeypatch.setenv("VDSM_NET_RESOLV_CONF", str(path))
    assert host_nameservers() == ["192.0.2.9"]


def test_the_nameservers_the_host_already_has_are_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every setup re-applies the host's own nameservers: a persistent file holding exactly
    those is left alone without the 'not applied' warning (which stays for real changes)."""
    persistent = tmp_path / "etc-resolv.conf"
    persistent.write_text("search example\nnameserver 9.9.9.9\n")
    roots = (str(tmp_path / "run") + "/",)
    none = str(tmp_path / "no-resolved")
    with caplog.at_level(logging.WARNING):
        assert apply_nameservers("mgmt", ["9.9.9.9"], str(persistent), roots, none) == "unchanged"
    assert caplog.records == []
    with caplog.at_level(logging.WARNING):
        assert apply_nameservers("mgmt", ["1.1.1.1"], str(persistent), roots, none) == "refused"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
