"""Issue 12 on the real kernel: the hostile inputs seen there (rows 1-7 of
``tests/unit/verbs/hostile_requests.CASES``, on dummy NICs) against a vdsm-netd process in a
namespace, each leaving ``ip -d link``, ``ip addr``, routes, rules, the network caps and the
resolver file exactly as they were; the resolver's other lines surviving real setups (row 2);
no sysfs mount left in the host's mount namespace by ``--netns`` (row 15); and no traceback in
the agent's log.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.client import ServerError
from rpc.tls.pki import init_pki
from tests.e2e import e2e_kernel as k
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_agent import Agent
from tests.e2e.e2e_requests import DONE, network_view, setup
from tests.unit.verbs.hostile_requests import CASES, Hostile
from vdsm_net.dynamic.resolv import RESOLV_ENV

KERNEL_ROWS = frozenset({"1", "3", "4", "5", "6", "7"})
ALSO = frozenset({"remove-a-nic-name", "remove-a-foreign-bridge", "remove-lo"})
RESOLV = "# the host's own\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n"
SYSFS_MOUNT = "vdsm-net-sysfs-"


def _on_dummies(value: Any) -> Any:
    """The table's NIC names (eth0..eth3, and eth1's VLAN) as this tier's dummy_0..dummy_3."""
    if isinstance(value, dict):
        return {_on_dummies(k): _on_dummies(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_on_dummies(v) for v in value]
    if isinstance(value, str) and value[:3] == "eth" and value[3:].isdigit():
        return f"dummy_{value[3:]}"
    return value


UNIT_ONLY = frozenset({"foreign-dummy-name"})  # a link of kind "other": none is made here
KERNEL_CASES = [c for c in CASES if c.id not in UNIT_ONLY
                and ((c.row in KERNEL_ROWS and not c.hook) or c.id in ALSO)]


def _foreign(ns: str) -> None:
    """hostile_requests' "foreign" host on the real kernel: a bridge with a port, an address and
    a route, a VLAN on dummy_1 and a bridge with a bond's name (no link of kind "other": the
    unit tier has that one)."""
    for args in (("link", "add", "br0", "type", "bridge"),
                 ("link", "add", "vnet0", "type", "veth", "peer", "name", "vnet0p"),
                 ("link", "set", "vnet0", "master", "br0"),
                 ("link", "set", "br0", "up"), ("link", "set", "vnet0", "up"),
                 ("link", "set", "vnet0p", "up"),
                 ("addr", "add", "198.51.100.1/24", "dev", "br0"),
                 ("route", "add", "203.0.113.0/24", "via", "198.51.100.7", "dev", "br0"),
                 ("link", "add", "link", "dummy_1", "name", "dummy_1.10", "type", "vlan",
                  "id", "10"),
                 ("link", "add", "bond9", "type", "bridge")):
        k.ip("-n", ns, *args)


@pytest.fixture
def resolv(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A resolver file under /run (the guest's tmpfs) that the agent may manage."""
    run = Path(tempfile.mkdtemp(prefix="vdsm-net-hostile-", dir="/run"))
    path = run / "resolv.conf"
    path.write_text(RESOLV)
    monkeypatch.setenv(RESOLV_ENV, str(path))
    try:
        yield path
    finally:
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Agent, Path]]:
    """One agent for the refused requests, on a namespace with foreign links in it."""
    pki = tmp_path_factory.mktemp("hostile-pki")
    init_pki(pki, host_cn="localhost")
    run = Path(tempfile.mkdtemp(prefix="vdsm-net-hostile-", dir="/run"))
    path = run / "resolv.conf"
    path.write_text(RESOLV)
    old = os.environ.get(RESOLV_ENV)
    os.environ[RESOLV_ENV] = str(path)
    try:
        with k.nic_namespace() as ns:
            _foreign(ns)
            agent = Agent(pki, ns, tmp_path_factory.mktemp("hostile") / "agent.log")
            try:
                yield agent.start(), path
            finally:
                agent.stop()
            assert "Traceback" not in agent.log(), agent.log()[-5000:]
    finally:
        if old is None:
            os.environ.pop(RESOLV_ENV, None)
        else:
            os.environ[RESOLV_ENV] = old
        shutil.rmtree(run, ignore_errors=True)


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.id for c in KERNEL_CASES])
def test_a_hostile_request_changes_nothing_on_the_real_kernel(
    hostile_agent: tuple[Agent, Path], case: Hostile
) -> None:
    agent, resolver = hostile_agent
    before = k.settled_dump(agent.netns)
    with agent.client() as cli:
        caps = network_view(cli.call("Host.getNetworkCapabilities"))
        with pytest.raises(ServerError) as err:
            setup(cli, _on_dummies(case.networks), _on_dummies(case.bondings))
        assert cli.call("Host.ping2") is True
        caps_after = network_view(cli.call("Host.getNetworkCapabilities"))
    assert err.value.code == case.code, err.value.message
    assert k.dump_diff(before, k.settled_dump(agent.netns)) == []
    for view in (caps, caps_after):  # a failed setup still makes it dirty (vdsm-wire §4.7)
        view.pop("netConfigDirty")
    assert caps_after == caps
    assert resolver.read_text() == RESOLV
    assert "Traceback" not in agent.log()


def _mgmt(**more: Any) -> dict[str, Any]:
    return {"ovirtmgmt": {"nic": "dummy_0", "ipaddr": "192.0.2.10", "prefix": "24",
                          "gateway": "192.0.2.1", "defaultRoute": True, **more}}


def test_the_resolver_keeps_its_other_lines_and_refuses_injection(
    resolv: Path, netns: str, start_agent: StartAgent
) -> None:
    """Rows 1 and 2 on a real agent: setups rewrite only the nameserver lines; an injected
    line is refused and never read back as a default."""
    agent = start_agent(netns)
    others = ["# the host's own", "search corp.example", "options edns0 trust-ad"]
    with agent.client() as cli:
        assert setup(cli, _mgmt(nameservers=["192.0.2.60", "fe80::1%dummy_0"])) == DONE
        lines = resolv.read_text().splitlines()
        assert [ln for ln in lines if ln.startswith("nameserver")] == [
            "nameserver 192.0.2.60", "nameserver fe80::1%dummy_0"]
        assert [ln for ln in lines if not ln.startswith(("nameserver", "# nameservers"))] == \
            others
        written = resolv.read_text()
        before = k.settled_dump(netns)
        with pytest.raises(ServerError) as err:
            setup(cli, _mgmt(nameservers=["192.0.2.53%\nsearch attacker.example\noptions rotate"]))
        assert err.value.code == 22
        assert resolv.read_text() == written
        assert k.dump_diff(before, k.settled_dump(netns)) == []
        assert setup(cli, _mgmt(mtu=1400)) == DONE  # no nameservers: the file's are kept
        assert resolv.read_text() == written
        assert cli.call("Host.getNetworkCapabilities")["nameservers"] == [
            "192.0.2.60", "fe80::1%dummy_0"]
        assert setup(cli, {"ovirtmgmt": {"remove": "true"}}) == DONE
    assert resolv.read_text().splitlines() == others
    assert "Traceback" not in agent.log()


def _sysfs_mounts() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line for line in f if SYSFS_MOUNT in line]


def _sysfs_dirs() -> list[str]:
    return [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(SYSFS_MOUNT)]


def test_netns_leaves_no_sysfs_mount_in_the_host_namespace(
    netns: str, start_agent: StartAgent
) -> None:
    """Row 15: not while the agent runs, not after it stops, and sysfs still works for it (bond
    options are read from the namespace's own sysfs)."""
    mounts, dirs = _sysfs_mounts(), _sysfs_dirs()
    agent = start_agent(netns)
    with agent.client() as cli:
        bonds = {"bond7": {"nics": ["dummy_2", "dummy_3"], "options": "mode=1 miimon=150"}}
        assert setup(cli, {}, bonds) == DONE
        opts = cli.call("Host.getNetworkCapabilities")["bondings"]["bond7"]["opts"]
        assert (opts["mode"], opts["miimon"]) == ("1", "150")
        assert _sysfs_mounts() == mounts and _sysfs_dirs() == dirs
        assert setup(cli, {}, {"bond7": {"remove": "true"}}) == DONE
    assert agent.stop() == 0
    assert _sysfs_mounts() == mounts and _sysfs_dirs() == dirs
