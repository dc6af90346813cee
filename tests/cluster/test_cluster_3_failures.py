"""Failures: the leading manager SIGKILLed, an etcd member lost, a required network's carrier
gone (NonOperational, nothing pushed), an agent that stops answering (NonResponsive, nothing
pushed, reconciled when it is back)."""

from __future__ import annotations

import signal
import time

from tests.cluster.cluster import (
    HOSTS,
    MANAGERS,
    RESYNC,
    Cluster,
    measure,
    wait_for,
    with_network,
)
from tests.cluster.procs import hosts_json


def test_leader_sigkill_the_other_leads_and_a_change_reaches_every_host(
    cluster: Cluster,
) -> None:
    wait_for(lambda: cluster.leader() in MANAGERS, 60, "a leader")
    leader = cluster.leader()
    assert leader is not None
    (standby,) = [m for m in MANAGERS if m != leader]
    cluster.managers[leader].stop(signal.SIGKILL)
    took = wait_for(lambda: cluster.leader() == standby, 60, f"{standby} leads")
    measure("failover (leader SIGKILL to the standby leading)", took)
    cluster.set_policy(with_network("afterfail", 500))
    took = cluster.wait_converged(what="changed by the new leader")
    measure("policy change right after the failover to every host", took)


def test_losing_one_of_three_etcd_members_changes_nothing(cluster: Cluster) -> None:
    cluster.etcd.stop(0)  # the member every client tries first
    try:
        cluster.set_policy(with_network("quorum", 600))
        took = cluster.wait_converged(what="changed with a member down")
        measure("policy change with one of three etcd members down", took)
        h3 = cluster.hosts["h3"]
        h3.agent.stop()  # deregisters, then registers again through the remaining members
        wait_for(lambda: not hosts_json(cluster.etcd.url)["h3"]["registered"], 30,
                 "h3 deregistered")
        h3.agent.start()
        cluster.wait_converged(("h3",), what="registered again with a member down")
    finally:
        cluster.etcd.start(0)


def _ports(cluster: Cluster, host: str, up: bool) -> None:
    net = cluster.hosts[host].net
    for nic in ("eth1", "eth2"):  # both ports of the bond that carries the required network
        cluster.switch.port(net.port_of(nic), up)


def test_required_network_down_is_non_operational_and_left_alone(cluster: Cluster) -> None:
    h3 = cluster.hosts["h3"]
    _ports(cluster, "h3", up=False)
    try:
        took = cluster.wait_state("h3", "NonOperational")
        measure("carrier lost to NonOperational", took)
        before = h3.net.snapshot()
        cluster.set_policy(with_network("whiledown", 700))
        cluster.wait_converged(("h1", "h2"), what="changed")
        time.sleep(RESYNC + 2)
        assert cluster.state("h3") == "NonOperational"
        assert h3.net.snapshot() == before, "a NonOperational host was changed"
    finally:
        _ports(cluster, "h3", up=True)
    took = cluster.wait_converged(("h3",), what="Up with the change after the link came back")
    measure("link back to Up with the deferred change", took)


def test_unreachable_agent_is_non_responsive_then_reconciled(cluster: Cluster) -> None:
    h2 = cluster.hosts["h2"]
    h2.agent.send(signal.SIGSTOP)
    try:
        took = cluster.wait_state("h2", "NonResponsive")
        measure("agent SIGSTOP to NonResponsive", took)
        before = h2.net.snapshot()
        cluster.set_policy(with_network("whilestopped", 800))
        cluster.wait_converged(tuple(h for h in HOSTS if h != "h2"), what="changed")
        time.sleep(RESYNC + 2)
        assert cluster.state("h2") == "NonResponsive"
        assert h2.net.snapshot() == before
    finally:
        h2.agent.send(signal.SIGCONT)
    took = cluster.wait_converged(("h2",), what="reconciled after SIGCONT")
    measure("agent SIGCONT to reconciled", took)


def test_no_host_ever_got_two_setups_at_once(cluster: Cluster) -> None:
    """Over the whole run (failover and etcd member loss included): an agent answers a second
    configuration call made while one is under way with 40, and none ever did."""
    for name, host in cluster.hosts.items():
        calls = [line for line in host.agent.log().splitlines()
                 if "call Host.setupNetworks " in line]
        assert calls, f"{name} was never pushed to"
        assert not [line for line in calls if "code=40" in line], f"{name}: overlapping pushes"
