"""The whole verb surface over loopback mutual TLS, every reply run through the type checker."""

from __future__ import annotations

import copy
import os
import threading
from typing import Any

import pytest

from rpc.client import Client, ServerError
from rpc.jsonrpc import CallContext
from tests.unit.verbs.conftest import NICS, WAIT, Agent
from vdsm_net.model.kernel import Address, LinkStats
from vdsm_net.verbs import schema as t
from vdsm_net.verbs.api import last_client_iface

NOCHK = {"connectivityCheck": "false"}
# The engine's own string forms (vdsm-wire §3.2).
ENGINE_REQUEST: dict[str, Any] = {
    "networks": {
        "ovirtmgmt": {"nic": "eth0", "bridged": "true", "stp": "no", "mtu": 1500,
                      "ipaddr": "192.0.2.10", "prefix": "24", "gateway": "192.0.2.1",
                      "defaultRoute": True, "nameservers": ["192.0.2.53"]},
        "data": {"bonding": "bond0", "vlan": "100", "bridged": "false", "mtu": 9000,
                 "ipv6addr": "2001:db8::10/64"},
        "vm": {"nic": "eth3", "bridged": "true", "stp": "yes", "vlan": "7",
               "custom": {"bridge_opts": "multicast_snooping=0 priority=1"}},
    },
    "bondings": {"bond0": {"nics": ["eth2", "eth1"], "options": "mode=802.3ad miimon=150"}},
    "options": NOCHK,
}


def setup(cli: Client, body: dict[str, Any]) -> Any:
    return cli.call("Host.setupNetworks", {
        "networks": body.get("networks", {}), "bondings": body.get("bondings", {}),
        "options": body.get("options", NOCHK)})


def test_setup_networks_returns_done_and_caps_follow_the_type_conventions(
    agent: Agent, cli: Client
) -> None:
    result = setup(cli, ENGINE_REQUEST)
    t.check(result, t.DONE)
    caps = cli.call("Host.getCapabilities")
    t.check(caps, t.CAPS)
    netcaps = cli.call("Host.getNetworkCapabilities")
    t.check(netcaps, t.NETWORK_CAPS)
    assert set(caps["networks"]) == {"ovirtmgmt", "data", "vm"}
    mgmt, data, vm = (caps["networks"][n] for n in ("ovirtmgmt", "data", "vm"))
    assert mgmt["bridged"] is True and mgmt["southbound"] == "eth0" and mgmt["stp"] == "off"
    assert mgmt["addr"] == "192.0.2.10" and mgmt["netmask"] == "255.255.255.0"
    assert mgmt["gateway"] == "192.0.2.1" and mgmt["ipv4defaultroute"] is True
    assert data["bridged"] is False and data["iface"] == data["interface"] == "bond0.100"
    assert data["vlanid"] == 100 and data["mtu"] == "9000" and data["ipv6gateway"] == "::"
    assert data["ipv6addrs"] == ["2001:db8::10/64"]
    assert vm["stp"] == "on" and vm["vlanid"] == 7 and vm["southbound"] == "eth3.7"
    assert caps["bridges"]["vm"]["opts"]["multicast_snooping"] == "0"
    assert caps["bridges"]["vm"]["opts"]["priority"] == "1"
    assert caps["bondings"]["bond0"]["opts"]["mode"] == "4"
    assert caps["bondings"]["bond0"]["opts"]["miimon"] == "150"
    assert caps["bondings"]["bond0"]["slaves"] == ["eth1", "eth2"]
    assert caps["vlans"]["bond0.100"] == {**caps["vlans"]["bond0.100"], "iface": "bond0",
                                          "vlanid": 100}
    assert caps["nics"]["eth1"]["mtu"] == "9000"
    assert caps["netConfigDirty"] == "True" and netcaps["netConfigDirty"] == "True"
    assert "lastClientIface" not in netcaps
    assert caps["lastClientIface"] == ""
    # the client connected to 127.0.0.1: once the ovirtmgmt bridge holds it (a network may not
    # be given a loopback address, so it is put there behind the agent's back), it is named
    agent.kernel.add_address(Address("ovirtmgmt", "127.0.0.1/8"))
    assert cli.call("Host.getCapabilities")["lastClientIface"] == "ovirtmgmt"


def test_empty_host_caps_and_host_keys_are_read_from_the_host(cli: Client) -> None:
    caps = cli.call("Host.getCapabilities")
    t.check(caps, t.CAPS)
    assert caps["networks"] == {} and sorted(caps["nics"]) == NICS
    assert caps["netConfigDirty"] == "False" and caps["lastClientIface"] == ""
    assert caps["ovnConfigured"] is False and caps["hooks"] == {}
    assert "4.5" in caps["supportedENGINEs"] and "4.6" in caps["clusterLevels"]
    assert caps["kvmEnabled"] == ("true" if os.path.exists("/dev/kvm") else "false")
    assert int(caps["cpuThreads"]) == os.cpu_count()
    assert caps["packages2"]["kernel"]["version"] == os.uname().release.split("-")[0]
    assert caps["packages2"]["vdsm"]["version"] == caps["software_version"]
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert caps["memSize"] == str(total // (1024 * 1024))


def test_liveness_verbs_return_true(cli: Client) -> None:
    for verb in ("Host.ping", "Host.ping2", "Host.confirmConnectivity",
                 "Host.setSafeNetworkConfig"):
        assert cli.call(verb) is True


def test_statistics_report_every_link_with_string_counters(agent: Agent, cli: Client) -> None:
    setup(cli, {"networks": {"net": {"nic": "eth1", "vlan": "5"}}})
    stats = cli.call("Host.getNetworkStatistics")
    t.check(stats, t.NETWORK_STATISTICS)
    assert set(stats["network"]) == set(agent.kernel.observe().links)
    assert stats["network"]["eth1"]["speed"] == "1000"  # up: the simulated NIC says 1000
    assert stats["network"]["eth3"]["state"] == "down"
    host = cli.call("Host.getStats")
    t.check(host, t.HOST_STATS)
    assert host["netConfigDirty"] == "True"
    assert set(host["network"]) == set(stats["network"])


def test_drop_totals_are_not_swapped(agent: Agent) -> None:
    """vdsm reports rxDropped and txDropped swapped; we report each under its own name."""
    state = agent.kernel.observe()
    links = dict(state.links)
    links["eth0"] = links["eth0"].with_(stats=LinkStats(rx_bytes=10, rx_dropped=3, tx_dropped=1))
    links["eth1"] = links["eth1"].with_(stats=LinkStats(tx_bytes=7, rx_dropped=2, tx_errors=4))
    agent.kernel.observe = lambda stats=True: type(state)(links, state.addresses, state.routes,  # type: ignore[method-assign]
                                               state.rules)
    with agent.client() as cli:
        stats = cli.call("Host.getNetworkStatistics")
        host = cli.call("Host.getStats")
    assert (stats["rxDropped"], stats["txDropped"]) == (5, 1)
    assert (host["rxDropped"], host["txDropped"]) == ("5", "1")
    eth0, eth1 = stats["network"]["eth0"], stats["network"]["eth1"]
    assert (eth0["rx"], eth0["rxDropped"], eth0["txDropped"]) == ("10", "3", "1")
    assert (eth1["tx"], eth1["txErrors"]) == ("7", "4")


def test_plan_networks_applies_nothing(agent: Agent, cli: Client) -> None:
    before = agent.kernel.observe()
    plan = cli.call("Host.planNetworks", {"networks": ENGINE_REQUEST["networks"],
                                          "bondings": ENGINE_REQUEST["bondings"],
                                          "options": NOCHK})
    assert isinstance(plan["plan"], list) and len(plan["plan"]) > 5
    assert agent.kernel.observe() == before and agent.kernel.writes == 0


def test_net_config_dirty_follows_vdsm(agent: Agent, cli: Client) -> None:
    def dirty() -> str:
        value = cli.call("Host.getNetworkCapabilities")["netConfigDirty"]
        assert value == cli.call("Host.getStats")["netConfigDirty"]
        return str(value)

    assert dirty() == "False"
    with pytest.raises(ServerError):
        setup(cli, {"networks": {"bad": {"nic": "missing"}}})
    assert dirty() == "True"  # set at the start of every setupNetworks, even a failing one
    assert cli.call("Host.setSafeNetworkConfig") is True
    assert dirty() == "False"
    setup(cli, {"networks": {"n": {"nic": "eth1"}}})
    assert dirty() == "True"
    setup(cli, {"networks": {"m": {"nic": "eth2"}},
                "options": {"connectivityCheck": "false", "commitOnSuccess": True}})
    assert dirty() == "False"


def test_events_after_setups_that_changed_the_host(cli: Client) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    got = threading.Condition()

    def on_event(method: str, params: dict[str, Any]) -> None:
        with got:
            events.append((method, params))
            got.notify_all()

    cli.subscribe_events(on_event)
    body = {"networks": {"n": {"nic": "eth1"}}}
    setup(cli, body)
    setup(cli, body)  # idempotent: changes nothing, so no event
    setup(cli, {"networks": {"n": {"remove": "true"}}})
    with got:
        assert got.wait_for(lambda: len(events) >= 2, WAIT)
    # an event for the no-op would have arrived before its reply, so there are exactly two
    assert [m for m, _ in events] == ["|net|host_conn|no_id"] * 2
    for _, params in events:
        assert set(params) == {"notify_time"} and isinstance(params["notify_time"], int)


def test_other_clients_subscribed_to_events_receive_them(agent: Agent, cli: Client) -> None:
    seen = threading.Event()
    with agent.client() as watcher:
        watcher.subscribe_events(lambda m, _p: seen.set() if m == "|net|host_conn|no_id"
                                 else None)
        watcher.call("Host.ping2")  # the SUBSCRIBE is in before the setup starts
        setup(cli, {"networks": {"n": {"nic": "eth1", "bridged": "false"}}})
        assert seen.wait(WAIT)


def test_last_client_iface_names_the_device_holding_the_local_address() -> None:
    from vdsm_net.model.kernel import KernelState, Link

    state = KernelState({"br": Link("br", "bridge")},
                        frozenset({Address("br", "192.0.2.1/24"), Address("br", "2001:db8::1/64")}))
    assert last_client_iface(state, CallContext(local_address=("192.0.2.1", 1))) == "br"
    assert last_client_iface(state, CallContext(local_address=("::ffff:192.0.2.1", 1))) == "br"
    assert last_client_iface(state, CallContext(local_address=("2001:db8::1", 1, 0, 0))) == "br"
    assert last_client_iface(state, CallContext(local_address=("192.0.2.9", 1))) == ""
    assert last_client_iface(state, None) == ""


@pytest.mark.parametrize("path,bad", [
    (("nics", "eth0", "mtu"), 1500),
    (("nics", "eth0", "speed"), "1000"),
    (("netConfigDirty",), False),
    (("nics", "eth0", "ipv6gateway"), ""),
])
def test_the_type_checker_rejects_vdsm_type_mistakes(cli: Client, path: tuple[str, ...],
                                                     bad: Any) -> None:
    caps = cli.call("Host.getNetworkCapabilities")
    t.check(caps, t.NETWORK_CAPS)
    broken = copy.deepcopy(caps)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises(AssertionError):
        t.check(broken, t.NETWORK_CAPS)
