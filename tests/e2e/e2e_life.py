"""Helpers for the stateless-lifecycle e2e tests: boot specs, an agent run that is expected to
stop, a large request to cut short with SIGKILL, and what the kernel's ownership tags name.

Reuses the e2e fixtures (``e2e_agent``, ``e2e_kernel``); nothing here talks to the agent except
through its command line and the wire.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from rpc.client import ClientError, ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from vdsm_net.adopt import tag_fields
from vdsm_net.backends.netlink_worker import NetlinkWorker

MGMT = "ovirtmgmt"
MGMT_NIC = "dummy_0"
MGMT_ADDR, MGMT_PREFIX, MGMT_GW = "198.51.100.10", 24, "198.51.100.1"
EXIT_TIMEOUT = 60.0


def mgmt_network(**extra: Any) -> dict[str, Any]:
    """The management network as a boot spec names it: bridged on a NIC, static IPv4 and the
    default route."""
    attrs: dict[str, Any] = {
        "nic": MGMT_NIC, "bridged": "true", "stp": "no", "ipaddr": MGMT_ADDR,
        "prefix": str(MGMT_PREFIX), "gateway": MGMT_GW, "defaultRoute": True,
        "switch": "legacy",
    }
    attrs.update(extra)
    return {MGMT: attrs}


def write_boot_spec(path: Path, networks: dict[str, Any] | None = None,
                    bondings: dict[str, Any] | None = None) -> Path:
    """A boot spec file ``{"networks": .., "bondings": ..}``, the management network by default."""
    doc = {"networks": mgmt_network() if networks is None else networks,
           "bondings": bondings or {}}
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def run_to_exit(
    pki: Path, ns: str, log_path: Path, boot_spec: Path
) -> subprocess.CompletedProcess[str]:
    """Run vdsm-netd with the same argv the fixtures use, expecting it to stop by itself (a bad
    boot spec); it is killed after EXIT_TIMEOUT s otherwise (subprocess.TimeoutExpired)."""
    argv = Agent(pki, ns, log_path, boot_spec).argv()
    return subprocess.run(argv, capture_output=True, text=True, timeout=EXIT_TIMEOUT, check=False)


# -- a large request ---------------------------------------------------------------------------
BIG_BOND = "bond7"
BIG_NICS = ("dummy_2", "dummy_3")
BIG_VLAN0 = 200


def big_net_name(i: int) -> str:
    return f"big{i:02d}"


def big_request(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``n`` bridged VLAN networks with a static IPv4 each, over one mode-1 bond."""
    networks = {
        big_net_name(i): {
            "bonding": BIG_BOND, "vlan": str(BIG_VLAN0 + i), "bridged": "true", "stp": "no",
            "ipaddr": f"10.{i}.0.1", "prefix": "24", "switch": "legacy",
        }
        for i in range(n)
    }
    bondings = {BIG_BOND: {"nics": list(BIG_NICS), "options": "mode=1 miimon=100",
                           "switch": "legacy"}}
    return networks, bondings


def big_objects(n: int) -> int:
    """Kernel objects the big request creates: the bond, n VLANs, n bridges, n addresses."""
    return 1 + 3 * n


def removal(
    networks: dict[str, Any], bondings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request that removes every network and bond named."""
    return ({name: {"remove": "true"} for name in networks},
            {name: {"remove": "true"} for name in bondings})


# -- what the kernel holds ---------------------------------------------------------------------
class Created(NamedTuple):
    """What the agent has made so far: links that are neither NICs nor lo plus their global
    addresses (``objects``), and how many of those links are enslaved (``ports``)."""

    objects: int
    ports: int


def _created(ipr: Any) -> Created:
    links = {msg["index"]: msg for msg in ipr.get_links()}
    created = {index for index, msg in links.items()
               if msg.get_attr("IFLA_IFNAME") not in ("lo", *k.NICS)}
    addrs = sum(1 for msg in ipr.get_addr() if msg["index"] in created and msg["scope"] == 0)
    ports = sum(1 for index in created if links[index].get_attr("IFLA_MASTER"))
    return Created(len(created) + addrs, ports)


class ObjectCounter:
    """``Created``, counted over netlink from this process: a dump is far quicker than running
    ``ip`` in UML, so a kill lands close to the state it waits for."""

    def __init__(self, ns: str) -> None:
        self.worker = NetlinkWorker(ns)

    def __call__(self) -> Created:
        return self.worker.call(_created)

    def __enter__(self) -> ObjectCounter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.worker.close()


def tagged_networks(ns: str) -> set[str]:
    """The networks the kernel's ownership tags (ifalias) name: what a restarted agent adopts."""
    return {
        fields["net"]
        for entry in k.links(ns).values()
        if "net" in (fields := tag_fields(entry.get("ifalias")))
    }


def link_names(ns: str) -> set[str]:
    return set(k.links(ns))


class Apply(threading.Thread):
    """A setupNetworks sent on its own connection in the background; the agent may die under
    it, so the outcome is whatever the call raised or returned."""

    def __init__(self, agent: Agent, networks: dict[str, Any], bondings: dict[str, Any],
                 options: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.cli = agent.client()
        self.params = {"networks": networks, "bondings": bondings, "options": options}
        self.outcome: object = None

    def run(self) -> None:
        try:
            self.outcome = self.cli.call("Host.setupNetworks", self.params, timeout=120)
        except (ClientError, ServerError, TimeoutError) as exc:
            self.outcome = exc

    def finish(self) -> object:
        self.join(130)
        self.cli.close()
        return self.outcome


def kill_when(agent: Agent, count: ObjectCounter, done: Callable[[Created], bool],
              timeout: float = 60.0) -> Created:
    """SIGKILL the agent as soon as ``done(count())`` holds. The count right after the
    kill (the agent may have gone a few objects further meanwhile)."""
    assert agent.proc is not None
    deadline = time.monotonic() + timeout
    while not done(count()):
        if agent.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"agent gone or too slow before the kill point\n{agent.log()}")
    agent.proc.kill()
    agent.proc.wait()
    return count()
