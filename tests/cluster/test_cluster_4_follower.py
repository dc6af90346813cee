"""Engine-follower mode on the real kernel: with ``"master": "engine"`` an engine-style client
(rpc.client over mutual TLS, its own flow ids) configures and commits; the host reboots (agent
SIGKILLed, its links wiped, started again with a new boot id); the manager restores the
engine's safe configuration after the grace. A host whose engine applies within the grace is
left to it."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import Any

from rpc.client import Client, ClientError, ServerError
from tests.cluster.cluster import BASE_POLICY, Cluster, Host, measure, wait_for
from tests.unit.cluster.cluster_helpers import etcd_get

BOND = BASE_POLICY["bondings"]
DATA = BASE_POLICY["networks"]["data"]
NOT_READY = 99  # the agent answers 99 until its boot network is in


def engine_call(cluster: Cluster, host: Host, verb: str, params: dict[str, Any]) -> Any:
    """One call as the engine makes it, once the agent answers."""
    answer: list[Any] = []

    def called() -> bool:
        try:
            with Client.connect("127.0.0.1", host.agent.port, pki_dir=cluster.pki,
                                timeout=60) as client:
                answer.append(client.call(verb, params, timeout=120,
                                          flow_id=f"engine-{uuid.uuid4()}"))
            return True
        except ClientError:
            return False
        except ServerError as exc:
            if exc.code != NOT_READY:
                raise
            return False

    wait_for(called, 120, f"{host.name} answers {verb}")
    return answer[0]


def engine_setup(cluster: Cluster, host: Host, networks: dict[str, Any],
                 bondings: dict[str, Any], commit: bool) -> None:
    options = {"connectivityCheck": False, "commitOnSuccess": commit}
    done = engine_call(cluster, host, "Host.setupNetworks",
                       {"networks": networks, "bondings": bondings, "options": options})
    assert done["code"] == 0


def saved(cluster: Cluster, host: str) -> dict[str, Any]:
    """The networks of the host's safe config in etcd (the agent writes it in the
    background: a reboot before it lands would lose it)."""
    doc, _ = asyncio.run(etcd_get(cluster.etcd.url, f"/vdsm-net/safe/{host}"))
    networks: dict[str, Any] = doc["networks"] if doc else {}
    return networks


def follower(cluster: Cluster, host: str, boot_id: str | None = None) -> str | None:
    """The follower's state for the host's registered boot (``boot_id``: only that one)."""
    row = cluster.states().get(host, {})
    if boot_id is not None and row.get("bootId") != boot_id:
        return None
    state: str | None = row.get("follower")
    return state


def reboot(host: Host) -> str:
    """What a reboot leaves, and the agent started on it; the new boot id."""
    host.agent.stop(signal.SIGKILL)
    host.net.wipe()
    assert not host.net.has("bond0")
    boot_id = str(uuid.uuid4())
    host.agent.start(boot_id=boot_id)
    return boot_id


def test_a_rebooted_host_gets_the_engines_safe_config_after_the_grace(
    cluster: Cluster,
) -> None:
    cluster.set_policy({"master": "engine", "restoreGrace": 3})
    h3 = cluster.hosts["h3"]
    data = h3.pool_address("data", DATA)
    engnet = {"bonding": "bond0", "vlan": 300, "bridged": False, "ipaddr": "10.99.0.13",
              "netmask": "255.255.255.0"}
    engine_setup(cluster, h3, {"engnet": engnet}, {}, commit=True)
    wait_for(lambda: "engnet" in saved(cluster, "h3"), 60, "h3's safe config in etcd")
    wait_for(lambda: follower(cluster, "h3") == "engine-applied", 60, "h3 engine-applied")

    boot = reboot(h3)

    def restored() -> bool:  # the devices are looked at once the manager says it is done
        return (follower(cluster, "h3", boot) == "restored"
                and h3.has_network("engnet", engnet) and h3.has_network("data", DATA)
                and h3.net.addresses("bond0.300") == ["10.99.0.13/24"]
                and h3.pool_address("data", DATA) == data
                and h3.net.master("bond0.200") == "vmnet")

    wait_for(restored, 180, "h3 as the engine left it")
    measure("follower: reboot (agent start on a wiped host) to restored, grace 3 s",
            time.monotonic() - h3.agent.started_at)
    assert h3.net.master("eth1") == "bond0" and h3.net.master("eth2") == "bond0"
    assert h3.net.addresses("ovirtmgmt") == [f"{h3.mgmt_ip}/24"]
    caps = engine_call(cluster, h3, "Host.getNetworkCapabilities", {})
    assert caps["netConfigDirty"] == "False"  # the engine reconnects to a host in sync
    assert "engnet" in caps["networks"]


def test_an_engine_that_applies_within_the_grace_keeps_the_manager_out(
    cluster: Cluster,
) -> None:
    grace = 15
    cluster.set_policy({"master": "engine", "restoreGrace": grace})
    h2 = cluster.hosts["h2"]
    engine_call(cluster, h2, "Host.setSafeNetworkConfig", {})  # the engine's safe config
    wait_for(lambda: "vmnet" in saved(cluster, "h2"), 60, "h2's safe config in etcd")
    wait_for(lambda: follower(cluster, "h2") == "engine-applied", 60, "h2 engine-applied")

    boot = reboot(h2)
    enet = {"bonding": "bond0", "vlan": 400, "bridged": False}
    engine_setup(cluster, h2, {"enet": enet}, BOND, commit=False)  # back in time
    wait_for(lambda: follower(cluster, "h2", boot) == "engine-applied", 90,
             "h2 left to its engine")
    time.sleep(grace)  # past the grace (it began before that look): a restore would be due
    assert follower(cluster, "h2", boot) == "engine-applied"
    assert h2.net.has("bond0.400")
    assert not h2.net.has("vmnet") and not h2.net.has("bond0.100")  # nothing restored
    assert "host h2: restored" not in "".join(m.log() for m in cluster.managers.values())
