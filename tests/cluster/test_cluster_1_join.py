"""Join and reboot: hosts booted with only the management network get the cluster's bond,
VLAN network with a pool address and bridged VM network; traffic passes between two hosts over
the VLAN network; a rebooted host converges back with the same pool address."""

from __future__ import annotations

import ipaddress
import signal
import time

from tests.cluster.cluster import BASE_POLICY, HOSTS, POOL, Cluster, measure

DATA = BASE_POLICY["networks"]["data"]


def test_join_gives_bond_vlan_pool_address_and_bridge(cluster: Cluster) -> None:
    pool = ipaddress.ip_network(POOL)
    addresses = {}
    for name, host in cluster.hosts.items():
        links = host.net.links()
        assert links["bond0"]["linkinfo"]["info_kind"] == "bond"
        assert host.net.master("eth1") == "bond0" and host.net.master("eth2") == "bond0"
        assert links["bond0.100"]["linkinfo"]["info_data"]["id"] == 100
        assert links["vmnet"]["linkinfo"]["info_kind"] == "bridge"
        assert host.net.master("bond0.200") == "vmnet"
        cidr = host.pool_address("data", DATA)
        assert cidr is not None, f"{name} has no pool address"
        ip = ipaddress.ip_interface(cidr).ip
        assert ip in pool and ip != pool.network_address + 1  # the first is never given out
        addresses[name] = ip
        # the boot management network is the host's own: as the command line made it
        assert host.net.addresses("ovirtmgmt") == [f"{host.mgmt_ip}/24"]
        assert host.net.master("eth0") == "ovirtmgmt"
    assert len(set(addresses.values())) == len(HOSTS)
    for name, row in cluster.states().items():
        assert row["state"] == "Up" and row["error"] is None and row["inUse"] == [], row
        assert row["address"] == f"127.0.0.1:{cluster.hosts[name].agent.port}"


def test_traffic_passes_between_two_hosts_over_the_vlan_network(cluster: Cluster) -> None:
    target = cluster.hosts["h2"].pool_address("data", DATA)
    assert target is not None
    done = cluster.hosts["h1"].net.ping(target.split("/")[0])
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0% packet loss" in done.stdout


def test_reboot_converges_back_with_the_same_pool_address(cluster: Cluster) -> None:
    host = cluster.hosts["h2"]
    before = host.pool_address("data", DATA)
    host.agent.stop(signal.SIGKILL)
    host.net.wipe()  # what a reboot leaves: the NICs, unconfigured
    assert not host.net.has("bond0") and not host.net.has("vmnet")
    assert not host.net.addresses("eth0")
    host.agent.start()
    cluster.wait_converged(("h2",), timeout=180, what="converged after the reboot")
    measure("reboot (agent start on a wiped host) to converged",
            time.monotonic() - host.agent.started_at)
    assert host.pool_address("data", DATA) == before
    assert host.net.addresses("ovirtmgmt") == [f"{host.mgmt_ip}/24"]
