"""The connectivity check over the wire: rollback when nobody confirms (even after the caller is
gone), success when a second client keeps confirming as the engine does, and 40 meanwhile."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from tests.e2e.e2e_requests import (
    BOND,
    DONE,
    NET,
    VLAN_DEV,
    bond,
    check_opts,
    setup,
    vlan_net,
)

ERR_LOST_CONNECTION = 10
ERR_UNAVAILABLE = 40
SETTLE = 60.0  # generous bound for waits on the agent; never a pass/fail timing


def _in_background(fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    fut = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return fut


def test_new_network_and_bond_are_rolled_back_when_nobody_confirms(agent: Agent) -> None:
    ns = agent.netns
    before = k.settled_dump(ns)
    with agent.client() as cli:
        with pytest.raises(ServerError) as err:
            setup(cli, vlan_net(), bond(), check_opts(1))
        caps = cli.call("Host.getCapabilities")
    assert err.value.code == ERR_LOST_CONNECTION
    assert err.value.message.startswith("connectivity check failed: no Host.confirmConnectivity")
    assert NET not in caps["networks"] and NET not in caps["bridges"]
    assert BOND not in caps["bondings"] and VLAN_DEV not in caps["vlans"]
    assert "reverting" in agent.log()  # it was applied, then undone
    assert k.dump_diff(before, k.settled_dump(ns)) == []


def test_mtu_and_bond_mode_edit_is_rolled_back(agent: Agent) -> None:
    ns = agent.netns
    with agent.client() as cli:
        assert setup(cli, vlan_net(), bond()) == DONE
        before = k.settled_dump(ns)
        with pytest.raises(ServerError) as err:
            setup(cli, vlan_net(mtu=1600), bond(options="mode=0"), check_opts(1))
        caps = cli.call("Host.getCapabilities")
    assert err.value.code == ERR_LOST_CONNECTION
    assert caps["networks"][NET]["mtu"] == "1500"
    assert caps["bondings"][BOND]["opts"]["mode"] == "4"
    assert caps["vlans"][VLAN_DEV]["mtu"] == "1500"
    links = k.links(ns)
    assert k.link_data(links[BOND])["mode"] == "802.3ad"
    assert {links[n]["mtu"] for n in (NET, VLAN_DEV, BOND, "dummy_0", "dummy_1")} == {1500}
    assert links["dummy_0"].get("master") == BOND
    assert k.dump_diff(before, k.settled_dump(ns)) == []


def test_rollback_happens_after_the_caller_disconnects(agent: Agent) -> None:
    ns = agent.netns
    before = k.settled_dump(ns)
    cli = agent.client()
    with pytest.raises(TimeoutError):  # sent; do not wait for the answer
        setup(cli, vlan_net(), bond(), check_opts(2), timeout=0.01)
    cli.close()
    # the request still runs without its caller: applied, unconfirmed, reverted (the agent
    # logs the revert, then the verb's failure); this second client only reads
    k.wait_for(lambda: "connectivity check failed" in agent.log(), SETTLE,
               "the setup to fail its connectivity check")
    assert "reverting" in agent.log()
    with agent.client() as second:
        caps = second.call("Host.getCapabilities")
        assert second.call("Host.ping2") is True
    assert NET not in caps["networks"] and NET not in caps["bridges"]
    assert BOND not in caps["bondings"]
    assert k.dump_diff(before, k.settled_dump(ns)) == []


def test_reconnected_client_confirms_and_the_setup_stays(agent: Agent) -> None:
    """The reason for the check: the change cuts the engine off; it reconnects and confirms."""
    ns = agent.netns
    cli = agent.client()
    with pytest.raises(TimeoutError):
        setup(cli, vlan_net(), bond(), check_opts(120), timeout=0.01)
    cli.close()
    k.wait_for(lambda: NET in k.links(ns), SETTLE, "the setup to apply")
    with agent.client() as again:
        assert again.call("Host.confirmConnectivity") is True

        def setup_finished() -> bool:  # setSafe is refused with 40 while a setup runs
            try:
                return bool(again.call("Host.setSafeNetworkConfig"))
            except ServerError as exc:
                assert exc.code == ERR_UNAVAILABLE
                return False

        k.wait_for(setup_finished, SETTLE, "the setup to finish")
        caps = again.call("Host.getCapabilities")
    assert NET in caps["networks"] and BOND in caps["bondings"]
    assert caps["netConfigDirty"] == "False"
    assert "reverting" not in agent.log()


def test_engine_flow_second_client_confirms_while_setup_waits(agent: Agent) -> None:
    stop = threading.Event()
    confirmed = 0

    def poll_confirm() -> None:
        nonlocal confirmed
        with agent.client() as poller:
            while not stop.is_set():
                assert poller.call("Host.confirmConnectivity") is True
                confirmed += 1
                stop.wait(0.2)

    with agent.client() as cli:
        poller = _in_background(poll_confirm)
        try:
            result = setup(cli, vlan_net(), bond(), check_opts(10))
        finally:
            stop.set()
            poller.result(SETTLE)
        caps = cli.call("Host.getCapabilities")
    assert result == DONE
    assert confirmed > 0
    assert NET in caps["networks"] and BOND in caps["bondings"]
    assert "reverting" not in agent.log()
    assert k.link_kind(k.links(agent.netns)[NET]) == "bridge"


def test_second_setup_while_one_waits_for_its_check_is_40(agent: Agent) -> None:
    ns = agent.netns
    nic_before = k.settled_dump(ns)["links"]["dummy_3"]
    with agent.client() as first, agent.client() as second:
        waiting = _in_background(setup, first, vlan_net(), bond(), check_opts(120))
        k.wait_for(lambda: NET in k.links(ns), SETTLE, "the first setup to apply")
        other = {"green": {"nic": "dummy_3", "bridged": "false"}}
        with pytest.raises(ServerError) as busy:
            setup(second, other)
        with pytest.raises(ServerError) as busy_safe:
            second.call("Host.setSafeNetworkConfig")
        assert second.call("Host.ping2") is True  # liveness is never blocked
        assert not waiting.done()  # still waiting: nobody has confirmed yet
        assert second.call("Host.confirmConnectivity") is True  # now let it finish
        first_result = waiting.result(SETTLE)
        caps = second.call("Host.getNetworkCapabilities")
    assert (busy.value.code, busy.value.message) == (ERR_UNAVAILABLE, "Resource unavailable")
    assert busy_safe.value.code == ERR_UNAVAILABLE
    assert first_result == DONE
    assert NET in caps["networks"] and "green" not in caps["networks"]
    assert k.dump(ns)["links"]["dummy_3"] == nic_before
