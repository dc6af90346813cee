"""The nameservers policy over time: what the agent wrote it can clear; a resolver it never
wrote stays as it is."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vdsm_net.dynamic.dns import Nameservers
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.model.desired import Network, RunningConfig

HOST = "nameserver 9.9.9.9\n"


def policy(tmp_path: Path) -> tuple[Nameservers, Path]:
    run = tmp_path / "run"
    run.mkdir()
    resolv = run / "resolv.conf"
    resolv.write_text(HOST)
    return Nameservers(str(resolv), (str(run) + "/",), str(tmp_path / "no-resolved")), resolv


def dhcp_mgmt(*servers: str) -> RunningConfig:
    net = Network("mgmt", nic="eth0", bootproto="dhcp", default_route=True,
                  nameservers=tuple(servers))
    return RunningConfig(networks={"mgmt": net})


def test_nameservers_set_back_to_empty_on_a_dhcp_network_clear_what_we_wrote(
    tmp_path: Path,
) -> None:
    ns, resolv = policy(tmp_path)
    assert ns.update(dhcp_mgmt("1.1.1.1", "8.8.8.8"), {}) == "written"
    assert host_nameservers(str(resolv)) == ["1.1.1.1", "8.8.8.8"]
    assert ns.update(dhcp_mgmt(), {}) == "written"  # no lease yet: cleared, not left stale
    assert host_nameservers(str(resolv)) == []
    lease = {"mgmt": {"dns": ["192.0.2.53"]}}
    assert ns.update(dhcp_mgmt(), lease) == "written"  # the lease's DNS when it arrives
    assert host_nameservers(str(resolv)) == ["192.0.2.53"]
    assert ns.update(dhcp_mgmt(), lease) == "unchanged"


def test_a_resolver_never_written_is_left_alone(tmp_path: Path) -> None:
    ns, resolv = policy(tmp_path)
    assert ns.update(dhcp_mgmt(), {}) == "unchanged"  # DHCP, no lease, nothing written
    assert ns.update(RunningConfig(), {}) == "unchanged"  # no default-route network
    assert resolv.read_text() == HOST


def test_removing_the_default_route_network_clears_its_nameservers(tmp_path: Path) -> None:
    ns, resolv = policy(tmp_path)
    static = Network("mgmt", nic="eth0", ipaddr="10.0.0.2", netmask="255.0.0.0",
                     default_route=True, nameservers=("1.1.1.1",))
    assert ns.update(RunningConfig(networks={"mgmt": static}), {}) == "written"
    assert ns.update(RunningConfig(), {}) == "written"
    assert host_nameservers(str(resolv)) == []
    assert ns.update(RunningConfig(), {}) == "unchanged"


CORP = "# from the installer\nnameserver 9.9.9.9\nsearch corp.example\noptions edns0 trust-ad\n"


def static_mgmt(*servers: str) -> RunningConfig:
    net = Network("mgmt", nic="eth0", ipaddr="10.0.0.2", netmask="255.0.0.0",
                  default_route=True, nameservers=tuple(servers))
    return RunningConfig(networks={"mgmt": net})


def test_only_nameserver_lines_are_ours_the_rest_of_the_resolver_stays(tmp_path: Path) -> None:
    """Issue 12 row 2: search, options and comments survive every write, in their places."""
    ns, resolv = policy(tmp_path)
    resolv.write_text(CORP)
    assert ns.update(static_mgmt("192.0.2.53", "192.0.2.54"), {}) == "written"
    text = resolv.read_text()
    assert text.splitlines() == [
        "# from the installer", "# nameservers written by vdsm-net (runtime only)",
        "nameserver 192.0.2.53", "nameserver 192.0.2.54",
        "search corp.example", "options edns0 trust-ad",
    ]
    assert ns.update(static_mgmt("192.0.2.55"), {}) == "written"  # no second header
    assert resolv.read_text().count("vdsm-net") == 1
    assert ns.update(RunningConfig(), {}) == "written"  # cleared: only the other lines left
    assert resolv.read_text() == CORP.replace("nameserver 9.9.9.9\n", "")


def test_nameserver_lines_the_agent_would_refuse_are_not_read_back(tmp_path: Path) -> None:
    """Issue 12 row 1: a bad line in the file never becomes a default the agent writes."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53%\nnameserver fe80::1%eth0\nnameserver 10.0.0.1%x\n"
                      "nameserver 224.0.0.1\nnameserver 2001:db8::53\nnameserver bogus\n")
    assert host_nameservers(str(resolv)) == ["fe80::1%eth0", "2001:db8::53"]


def test_a_rewritten_resolver_keeps_its_mode_whatever_the_umask(tmp_path: Path) -> None:
    ns, resolv = policy(tmp_path)
    resolv.chmod(0o644)
    old = os.umask(0o077)
    try:
        assert ns.update(static_mgmt("192.0.2.53"), {}) == "written"
    finally:
        os.umask(old)
    assert stat.S_IMODE(resolv.stat().st_mode) == 0o644
