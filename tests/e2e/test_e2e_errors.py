"""Each of vdsm's setupNetworks error codes over the wire, with the kernel left exactly as it was.

One agent serves the whole module; it first builds a state the requests can collide with: bond0
(dummy_0, dummy_1) carrying the bridged VLAN network ``red``, and ``blue``, bridgeless on dummy_2.
Each test compares full ``ip -d -j`` dumps and the network caps before and after its call.
"""

from __future__ import annotations

from typing import Any

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from tests.e2e.e2e_requests import BOND, DONE, NET, bond, network_view, setup, vlan_net

CASES: list[tuple[int, str, dict[str, Any], dict[str, Any]]] = [
    (21, "bond without nics", {}, {"bond1": {"nics": []}}),
    (21, "bridgeless network without a southbound device", {"green": {"bridged": "false"}}, {}),
    (22, "ipaddr without netmask", {"green": {"nic": "dummy_3", "ipaddr": "192.0.2.50"}}, {}),
    (22, "octet above 255",
     {"green": {"nic": "dummy_3", "ipaddr": "192.0.2.256", "prefix": "24"}}, {}),
    (23, "missing nic", {"green": {"nic": "missing_nic"}}, {}),
    (24, "nic that is a bond slave", {"green": {"nic": "dummy_0", "bridged": "false"}}, {}),
    (25, "bad bond name", {}, {"jamesbond007": {"nics": ["dummy_3"]}}),
    (26, "vlan without nic or bond", {"green": {"vlan": "200", "bridged": "false"}}, {}),
    (27, "remove a network that does not exist", {"nonet": {"remove": "true"}}, {}),
    (27, "bridge name with a colon", {"a:b": {"nic": "dummy_3"}}, {}),
    (31, "remove a bond a network uses", {}, {BOND: {"remove": "true"}}),
]


@pytest.fixture(scope="module")
def busy_agent(shared_agent: Agent) -> Agent:
    with shared_agent.client() as cli:
        assert setup(cli, vlan_net(), bond()) == DONE
        blue = {"blue": {"nic": "dummy_2", "bridged": "false", "ipaddr": "198.51.100.2",
                         "netmask": "255.255.255.0"}}
        assert setup(cli, blue) == DONE
    return shared_agent


@pytest.mark.parametrize(
    ("code", "networks", "bondings"),
    [pytest.param(code, nets, bonds, id=f"{code}-{label.replace(' ', '_')}")
     for code, label, nets, bonds in CASES],
)
def test_error_code_over_the_wire_leaves_the_kernel_unchanged(
    busy_agent: Agent, code: int, networks: dict[str, Any], bondings: dict[str, Any]
) -> None:
    ns = busy_agent.netns
    before = k.settled_dump(ns)
    with busy_agent.client() as cli:
        caps_before = network_view(cli.call("Host.getNetworkCapabilities"))
        with pytest.raises(ServerError) as err:
            setup(cli, networks, bondings)
        caps_after = network_view(cli.call("Host.getNetworkCapabilities"))
    assert err.value.code == code, err.value.message
    assert isinstance(err.value.message, str) and err.value.message
    assert k.dump_diff(before, k.dump(ns)) == []
    assert caps_after == caps_before
    assert set(caps_after["networks"]) == {NET, "blue"}


def test_the_dump_witness_sees_one_small_write(netns: str) -> None:
    """The comparison above can fail: one MTU change or one address is a difference."""
    before = k.settled_dump(netns)
    k.ip("-n", netns, "link", "set", "dummy_3", "mtu", "1400")
    k.ip("-n", netns, "addr", "add", "203.0.113.9/24", "dev", "dummy_2")
    diff = k.dump_diff(before, k.dump(netns))
    assert any(line.startswith("link dummy_3.mtu: 1500 -> 1400") for line in diff), diff
    assert any("addrs new" in line and "203.0.113.9" in line for line in diff), diff
