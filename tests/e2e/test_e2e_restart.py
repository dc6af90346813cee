"""A clean restart of the process adopts what the previous agent built: the kernel's tags are the
only memory, so caps are identical, the same request plans nothing, and the adopted network and
bond are the new agent's to remove.

The boot-spec start, its 0-write restart and a bad spec are in test_e2e_lifecycle.py.
"""

from __future__ import annotations

from tests.e2e import e2e_kernel as k
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_requests import BOND, DONE, NET, bond, network_view, setup, vlan_net


def test_restarted_agent_adopts_what_the_previous_one_built(
    netns: str, start_agent: StartAgent
) -> None:
    first = start_agent(netns)
    with first.client() as cli:
        assert setup(cli, vlan_net(), bond()) == DONE
        assert cli.call("Host.setSafeNetworkConfig") is True
        net_caps = network_view(cli.call("Host.getNetworkCapabilities"))
    kernel = k.settled_dump(netns)
    assert first.stop() == 0  # SIGTERM is a clean exit, and tears nothing down
    assert k.dump_diff(kernel, k.settled_dump(netns)) == []
    second = start_agent(netns)
    with second.client() as cli:
        assert network_view(cli.call("Host.getNetworkCapabilities")) == net_caps
        plan = cli.call("Host.planNetworks",
                        {"networks": vlan_net(), "bondings": bond(), "options": {}})
        assert setup(cli, {NET: {"remove": "true"}}, {BOND: {"remove": "true"}}) == DONE
        caps = cli.call("Host.getNetworkCapabilities")
    assert plan == {"plan": []}
    assert NET not in caps["networks"] and BOND not in caps["bondings"]
    links = k.links(netns)
    assert not {NET, BOND, f"{BOND}.100"} & set(links)
    assert all("master" not in links[nic] for nic in k.NICS)
