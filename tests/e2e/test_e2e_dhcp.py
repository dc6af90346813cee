"""Dynamic addressing over the wire: vdsm-netd with DHCP clients against dnsmasq, which serves
two veth pairs from its own namespace (vdsm-wire §3.1, §3.4, §4.5, §1.8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_agent import Agent
from tests.e2e.e2e_requests import DONE, check_opts, setup

SERVED = {"veth_0": ("192.0.2", "192.0.2.53"), "veth_1": ("198.51.100", "198.51.100.53")}
LEASE_WAIT = 30.0
ERR_BAD_PARAMS = 21


@pytest.fixture
def dhcp_ns(netns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``netns`` plus veth_0 and veth_1, whose peers sit in a server namespace where dnsmasq
    hands out leases with a router and a DNS server. The agent's DHCP state and resolver file
    are per test, under /run (UML's tmpfs) and /tmp."""
    assert shutil.which("dnsmasq"), "dnsmasq is missing (make deps-system installs it)"
    srv = netns + "s"
    k.ip("netns", "add", srv)
    procs: list[subprocess.Popen[bytes]] = []
    run = Path(f"/run/vdsm-net-e2e-{os.getpid()}-{netns}")
    try:
        for nic, (net, dns) in SERVED.items():
            peer = nic + "p"
            k.ip("-n", netns, "link", "add", nic, "type", "veth", "peer", "name", peer)
            k.ip("-n", netns, "link", "set", peer, "netns", srv)
            k.ip("-n", srv, "addr", "add", f"{net}.1/24", "dev", peer)
            k.ip("-n", srv, "link", "set", peer, "up")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", srv, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                 "--port=0", "--user=root", "--bind-interfaces", f"--interface={peer}",
                 f"--dhcp-leasefile={tmp_path}/{nic}.leases",
                 f"--pid-file={tmp_path}/{nic}.pid",
                 f"--dhcp-range={net}.50,{net}.99,255.255.255.0,2m",
                 f"--dhcp-option=3,{net}.1", f"--dhcp-option=6,{dns}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        run.mkdir(parents=True)
        (run / "resolv.conf").write_text("nameserver 9.9.9.9\n")
        monkeypatch.setenv("VDSM_NET_RESOLV_CONF", str(run / "resolv.conf"))
        monkeypatch.setenv("VDSM_NET_DHCP_RUN_DIR", str(tmp_path / "dhcp"))
        yield netns
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)
        k.ip("netns", "del", srv)
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture
def dhcp_agent(dhcp_ns: str, start_agent: StartAgent) -> Agent:
    return start_agent(dhcp_ns)


def dhcp(nic: str, **extra: Any) -> dict[str, Any]:
    return {"nic": nic, "bridged": "false", "bootproto": "dhcp", "blockingdhcp": "true",
            **extra}


def caps(agent: Agent) -> dict[str, Any]:
    with agent.client() as cli:
        result = cli.call("Host.getNetworkCapabilities")
    assert isinstance(result, dict)
    return result


def leased(ns: str, dev: str, nic: str = "") -> list[str]:
    """The addresses on ``dev`` in the subnet served behind ``nic`` (default: ``dev``)."""
    return [a for a in k.addresses(ns, dev) if a.startswith(SERVED[nic or dev][0] + ".")]


def clients(ns: str) -> list[str]:
    """The command lines of the DHCP clients running in the namespace."""
    out = []
    for pid in k.ip("netns", "pids", ns).split():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "udhcpc" in cmd or "dhcp6_client" in cmd:
            out.append(cmd)
    return out


def rules(ns: str) -> list[dict[str, Any]]:
    return [r for r in k.ip_json(ns, "-4", "rule", "show") if r.get("priority") == 3200]


def test_two_dhcp_networks_only_the_default_route_one_has_it(dhcp_agent: Agent) -> None:
    ns = dhcp_agent.netns
    with dhcp_agent.client() as cli:
        assert setup(cli, {"mgmt": dhcp("veth_0", defaultRoute=True, bridged="true"),
                           "data": dhcp("veth_1")}) == DONE
    nets = caps(dhcp_agent)["networks"]
    mgmt, data = nets["mgmt"], nets["data"]
    assert mgmt["dhcpv4"] is True and mgmt["addr"].startswith("192.0.2.")
    assert mgmt["ipv4defaultroute"] is True and mgmt["gateway"] == "192.0.2.1"
    assert data["dhcpv4"] is True and data["addr"].startswith("198.51.100.")
    assert data["ipv4defaultroute"] is False and data["gateway"] == "198.51.100.1"
    assert k.default_route(ns)["dev"] == "mgmt"  # type: ignore[index]
    assert {r.get("src") for r in rules(ns)} >= {"198.51.100.0"}  # data's source routing


def test_nameservers_set_cleared_and_refused_on_a_non_default_network(
    dhcp_agent: Agent,
) -> None:
    with dhcp_agent.client() as cli:
        assert setup(cli, {"mgmt": dhcp("veth_0", defaultRoute=True)}) == DONE
        assert caps(dhcp_agent)["nameservers"] == ["192.0.2.53"]  # the lease's (auto-dns)
        assert setup(cli, {"mgmt": dhcp("veth_0", defaultRoute=True,
                                        nameservers=["203.0.113.5"])}) == DONE
        assert caps(dhcp_agent)["nameservers"] == ["203.0.113.5"]
        assert setup(cli, {"mgmt": dhcp("veth_0", defaultRoute=True, nameservers=[])}) == DONE
        assert caps(dhcp_agent)["nameservers"] == ["192.0.2.53"]
        with pytest.raises(ServerError) as err:
            setup(cli, {"data": dhcp("veth_1", nameservers=["203.0.113.5"])})
        assert err.value.code == ERR_BAD_PARAMS
        assert setup(cli, {"mgmt": {"remove": True}}) == DONE
        assert caps(dhcp_agent)["nameservers"] == []  # what we wrote is cleared


def test_lease_change_event_reaches_a_subscriber(dhcp_agent: Agent) -> None:
    ns = dhcp_agent.netns
    events: list[tuple[float, str]] = []
    with dhcp_agent.client() as listener, dhcp_agent.client() as cli:
        listener.subscribe_events(lambda method, _params: events.append((time.monotonic(),
                                                                          method)))
        listener.call("Host.ping2")
        assert setup(cli, {"mgmt": dhcp("veth_0", blockingdhcp="false")}) == DONE
        k.wait_for(lambda: bool(leased(ns, "veth_0")), LEASE_WAIT, "a lease")
        seen_lease = time.monotonic()
        k.wait_for(lambda: any(t > seen_lease for t, _ in events), LEASE_WAIT,
                   "an event after the lease")
    assert {method for _, method in events} == {"|net|host_conn|no_id"}


def test_static_dhcp_switches_leave_nothing_stale_and_removal_stops_the_client(
    dhcp_agent: Agent,
) -> None:
    ns = dhcp_agent.netns
    static = {"nic": "veth_1", "bridged": "false", "ipaddr": "198.51.100.7", "prefix": "24",
              "gateway": "198.51.100.1"}
    with dhcp_agent.client() as cli:
        assert setup(cli, {"data": static}) == DONE
        static_rules = rules(ns)
        assert len(static_rules) == 2
        assert setup(cli, {"data": dhcp("veth_1")}) == DONE
        [lease] = k.addresses(ns, "veth_1")
        assert lease != "198.51.100.7/24" and len(clients(ns)) == 1
        assert setup(cli, {"data": static}) == DONE
        assert k.addresses(ns, "veth_1") == ["198.51.100.7/24"]
        assert clients(ns) == [] and len(rules(ns)) == 2
        assert setup(cli, {"data": dhcp("veth_1")}) == DONE
        assert len(k.addresses(ns, "veth_1")) == 1 and len(clients(ns)) == 1
        assert setup(cli, {"data": {"remove": True}}) == DONE
    assert k.addresses(ns, "veth_1") == [] and clients(ns) == [] and rules(ns) == []
    assert caps(dhcp_agent)["networks"] == {}


def test_management_static_to_dhcp_with_a_connectivity_check(dhcp_agent: Agent) -> None:
    """The client confirms only once the lease is on the link: the DHCP client must run inside
    the setup, before its connectivity check, or the check fails and the switch is reverted."""
    ns = dhcp_agent.netns
    mgmt = {"nic": "veth_0", "bridged": "true", "ipaddr": "192.0.2.7", "prefix": "24",
            "gateway": "192.0.2.1", "defaultRoute": True}
    with dhcp_agent.client() as cli:
        assert setup(cli, {"mgmt": mgmt}) == DONE
    result: list[Any] = []

    def switch() -> None:
        with dhcp_agent.client() as cli:
            try:
                result.append(setup(cli, {"mgmt": dhcp("veth_0", bridged="true",
                                                       defaultRoute=True,
                                                       blockingdhcp="false")},
                                    options=check_opts(30)))
            except ServerError as exc:
                result.append(exc.code)

    worker = threading.Thread(target=switch)
    worker.start()
    try:
        k.wait_for(lambda: any(a != "192.0.2.7/24" for a in leased(ns, "mgmt", "veth_0")),
                   LEASE_WAIT, "the lease during the check")
        with dhcp_agent.client() as cli:
            assert cli.call("Host.confirmConnectivity") is True
    finally:
        worker.join(60)
    assert result == [DONE]
    # the client's event script adds the lease's address, then its default route: the check may
    # be confirmed between the two
    k.wait_for(lambda: caps(dhcp_agent)["networks"]["mgmt"]["ipv4defaultroute"] is True,
               LEASE_WAIT, "the lease's default route")
    net = caps(dhcp_agent)["networks"]["mgmt"]
    assert net["dhcpv4"] is True
    assert net["addr"] != "192.0.2.7" and net["addr"].startswith("192.0.2.")
