"""Engine-follower mode with a real etcd, real agents (simulated kernel, loopback TLS) and a
manager process: an engine commits, the host reboots, the manager restores it after the grace;
a host whose engine applies within the grace is left alone."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from rpc.client import ClientError, ServerError
from tests.unit.autonomic.live import Live
from tests.unit.cluster.cluster_helpers import etcd_get, sync_until

GRACE = 5
ENGINE_NETWORKS: dict[str, Any] = {
    "vmnet": {"bonding": "bond0", "vlan": 100, "bridged": True, "ipaddr": "10.30.0.{}",
              "netmask": "255.255.255.0"},
}
BONDINGS = {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4"}}
WAIT = 60.0


def engine_setup(live: Live, host: str, networks: dict[str, Any], bondings: dict[str, Any],
                 commit: bool) -> None:
    """The engine's setupNetworks (its own flow, not the manager's), once the agent answers."""
    options = {"connectivityCheck": False, "commitOnSuccess": commit}

    def done() -> bool:
        try:
            live.call(host, "Host.setupNetworks", {"networks": networks, "bondings": bondings,
                                                   "options": options})
            return True
        except ClientError:  # the agent is not listening yet
            return False
        except ServerError as exc:  # 99: not ready yet (its boot network going in)
            if exc.code != 99:
                raise
            return False

    sync_until(done, WAIT, f"{host}: the engine's setupNetworks")


def vmnet(index: int) -> dict[str, Any]:
    return {"vmnet": {**ENGINE_NETWORKS["vmnet"], "ipaddr": f"10.30.0.{10 + index}"}}


def saved(live: Live, host: str) -> str | None:
    """The boot id of the host's safe config in etcd, when it has the engine's network."""
    doc, _ = asyncio.run(etcd_get(live.etcd.url, f"/vdsm-net/safe/{host}"))
    return str(doc["bootId"]) if doc and "vmnet" in doc["networks"] else None


def follower(live: Live, host: str) -> str | None:
    state: str | None = live.hosts().get(host, {}).get("follower")
    return state


def test_a_rebooted_host_is_restored_and_an_engine_in_time_keeps_the_manager_out(
    live: Live,
) -> None:
    live.set_policy({"master": "engine", "restoreGrace": GRACE})
    for index in (0, 1):
        live.agent(index, boot_id=f"h{index}-boot-1")
    live.manager("m1")
    live.wait_registered(["h0", "h1"])
    for index in (0, 1):
        engine_setup(live, f"h{index}", vmnet(index), BONDINGS, commit=True)
    assert "vmnet" in live.caps("h1")["networks"]
    # the agent writes in the background: in etcd before the reboot
    sync_until(lambda: [saved(live, h) for h in ("h0", "h1")] == ["h0-boot-1", "h1-boot-1"],
               WAIT, "the safe configs in etcd")

    for index in (0, 1):  # both reboot: an empty kernel, a new boot id
        live.agents[f"h{index}"][0].stop(signal.SIGKILL)
    rebooted = time.monotonic()
    live.agent(0, boot_id="h0-boot-2")
    live.agent(1, boot_id="h1-boot-2")
    # h0's engine is back in time: it applies (without committing) something else
    engine_setup(live, "h0", {"vm2": {"nic": "eth3", "bridged": True}}, {}, commit=False)

    live.wait_caps("h1", lambda c: c["networks"].get("vmnet", {}).get("addr") == "10.30.0.11",
                   "the engine's safe config back")
    took = time.monotonic() - rebooted
    print(f"MEASURED reboot to restored (grace {GRACE} s): {took:.2f} s")
    assert took >= GRACE  # never before the grace
    caps = live.caps("h1")
    assert caps["bondings"]["bond0"]["slaves"] == ["eth1", "eth2"]
    assert caps["networks"]["ovirtmgmt"]["addr"] == "192.0.2.11"
    assert caps["netConfigDirty"] == "False"  # the engine finds the host in sync
    sync_until(lambda: follower(live, "h1") == "restored", WAIT, "h1 restored")
    sync_until(lambda: follower(live, "h0") == "engine-applied", WAIT, "h0 left to its engine")
    caps = live.caps("h0")
    assert "vmnet" not in caps["networks"] and "vm2" in caps["networks"]
    assert live.hosts()["h0"]["state"] is None  # no policy state: nothing was pushed
    log = live.managers["m1"].log()
    assert "restoring its safe configuration" in log and "Traceback" not in log
    assert log.count("host h1: restored") == 1 and "host h0: restored" not in log
