"""A fleet of a few hundred hosts in this process, a real etcd and a real vdsm-net-manager: the
manager converges them all (checked in each host's simulated kernel), and each fault knob is
seen by the manager: a refusing host stays in Error while the others converge, a dropped
connection is retried, a slow host still converges, a drifting host is repaired."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.cluster.etcd_server import EtcdCluster
from tests.unit.cluster.cluster_helpers import etcd_get, sync_until
from tests.unit.fleet.fleet_helpers import FleetThread, registered, states

BIN = Path(sys.executable).parent
HOSTS = 200
WAIT = 180.0  # generous: a few hundred hosts on a busy 2-core machine
POLICY = {"networks": {"vmnet": {"nic": "eth1", "vlan": 100, "bridged": True}},
          "bondings": {}}
FAULTS = ("0:refuse=26", "1:drop=2", "2:slow=1", "3:drift=2")


def _manager(etcd: EtcdCluster, pki: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(BIN / "vdsm-net-manager"), "run", "--etcd", etcd.url, "--id", "m1",
             "--pki", str(pki), "--lease-ttl", "2", "--resync", "30"],
            stdout=out, stderr=subprocess.STDOUT)


def _set_policy(etcd: EtcdCluster) -> None:
    out = subprocess.run([str(BIN / "vdsm-net-manager"), "--etcd", etcd.url, "policy", "set",
                          "-f", "-"], input=json.dumps(POLICY), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


def test_the_manager_converges_a_fleet_and_sees_each_fault(
        etcd: EtcdCluster, manager_pki: Path, tmp_path: Path) -> None:
    _set_policy(etcd)
    manager = _manager(etcd, manager_pki, tmp_path / "manager.log")
    try:
        fleet = FleetThread(manager_pki, HOSTS, etcd.url, faults=FAULTS).start()
    except BaseException:  # the manager never outlives the test
        manager.kill()
        manager.wait()
        raise
    try:
        ids = {f"fleet-{k}" for k in range(HOSTS)}
        sync_until(lambda: registered(etcd.url) == ids, WAIT, "every host registered")
        records = [asyncio.run(etcd_get(etcd.url, f"/vdsm-net/hosts/fleet-{k}"))
                   for k in (0, 1, HOSTS - 1)]
        assert [(r or {}).get("address") for r, _ in records] == [
            f"127.0.0.1:{fleet.host(k).port}" for k in (0, 1, HOSTS - 1)]
        assert len({lease for _, lease in records}) == 1 and records[0][1]  # one lease for all
        healthy = ids - {"fleet-0"}
        sync_until(lambda: all(states(etcd.url).get(h, {}).get("state") == "Up"
                               for h in healthy), WAIT,
                   f"all but the refusing host Up; log: {(tmp_path / 'manager.log')}")
        for k in range(1, HOSTS):
            if k != 3:  # the drifting host loses its bridge every 2 s: checked below
                assert {"vmnet", "eth1.100"} <= fleet.links(k), f"fleet-{k}"
        # Error between its retries (each one is Applying while it is pushed)
        sync_until(lambda: states(etcd.url)["fleet-0"]["state"] == "Error", WAIT,
                   "the refusing host in Error")
        assert states(etcd.url)["fleet-0"]["error"]["code"] == 26
        assert "eth1.100" not in fleet.links(0) and fleet.host(0).faults.refused >= 1
        assert fleet.host(1).faults.dropped == 2  # both drops seen, then converged anyway
        drifting = fleet.host(3)
        sync_until(lambda: drifting.faults.drifted >= 2, WAIT, "the host drifted twice")
        sync_until(lambda: {"vmnet", "eth1.100"} <= fleet.links(3)
                   and states(etcd.url)["fleet-3"]["state"] == "Up", WAIT,
                   "the drifted device put back")
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(60)
        fleet.stop()
    sync_until(lambda: not registered(etcd.url), 10, "the fleet's keys gone with its lease")
