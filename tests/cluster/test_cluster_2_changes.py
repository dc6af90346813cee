"""Changes at the master and behind its back: a policy change (a VM's port keeps its bridge, in
``inUse``), drift repaired, maintenance deferring a change until the host is active again."""

from __future__ import annotations

import time

from tests.cluster.cluster import (
    BASE_POLICY,
    RESYNC,
    Cluster,
    measure,
    wait_for,
    with_network,
)
from tests.cluster.netns import ip, ip_json
from tests.cluster.procs import manager_cli


def test_policy_change_adds_and_removes_and_keeps_a_vm_port(cluster: Cluster) -> None:
    h1 = cluster.hosts["h1"]
    h1.net.foreign_port("vnet0", "vmnet")  # a VM's tap on the VM network's bridge
    try:
        cluster.set_policy(with_network("extra", 300, drop=("vmnet",)))
        took = cluster.wait_converged(("h2", "h3"), absent=("vmnet",), what="changed")
        measure("policy change (add one network, remove one) to the hosts", took)

        def h1_kept() -> bool:
            row = cluster.states()["h1"]
            return (row["inUse"] == ["vmnet"] and row["state"] == "Up"
                    and h1.has_network("extra", cluster.policy["networks"]["extra"]))

        wait_for(h1_kept, 90, "h1 changed, vmnet kept in use")
        assert h1.net.master("vnet0") == "vmnet"  # the VM's port was never touched
        assert not cluster.hosts["h2"].net.has("bond0.200")
    finally:
        ip("-n", h1.net.ns, "link", "del", "vnet0", check=False)


def test_drift_is_repaired(cluster: Cluster) -> None:
    h3 = cluster.hosts["h3"]
    data = BASE_POLICY["networks"]["data"]
    address = h3.pool_address("data", data)
    (before,) = ip_json(h3.net.ns, "link", "show", "dev", "bond0.100")
    ip("-n", h3.net.ns, "link", "del", "bond0.100")  # out of band, behind everyone's back
    start = time.monotonic()

    def remade() -> bool:  # a new device (the repair may beat a look on a loaded guest)
        links = ip_json(h3.net.ns, "link", "show")
        return any(link["ifname"] == "bond0.100" and link["ifindex"] != before["ifindex"]
                   for link in links) and h3.matches(cluster.policy)

    wait_for(remade, 90, "h3 repaired with a new bond0.100")
    measure("drift (VLAN device deleted out of band) to repaired", time.monotonic() - start)
    assert h3.pool_address("data", data) == address


def test_maintenance_defers_the_change_until_active(cluster: Cluster) -> None:
    h1 = cluster.hosts["h1"]
    manager_cli(cluster.etcd.url, "maintenance", "h1", "on")
    cluster.wait_state("h1", "Maintenance")
    before = h1.net.snapshot()
    cluster.set_policy(with_network("maint", 400))
    cluster.wait_converged(("h2", "h3"), what="changed")
    time.sleep(RESYNC + 2)  # a resync passes while h1 is in maintenance
    assert cluster.state("h1") == "Maintenance"
    assert h1.net.snapshot() == before, "a host in maintenance was changed"
    manager_cli(cluster.etcd.url, "maintenance", "h1", "off")
    took = cluster.wait_converged(("h1",), what="applied after maintenance")
    measure("maintenance off to the deferred change applied", took)
