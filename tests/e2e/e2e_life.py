"""Helpers for the stateless-lifecycle e2e tests: boot specs, an agent run that is expected to
stop, a large request cut short by SIGKILL at an exact write of its plan (the agent's test-only
``VDSM_NET_TEST_SIGKILL_AT_WRITE`` hook), which of the plan's ops the kernel shows, and what the
kernel's ownership tags name.

Reuses the e2e fixtures (``e2e_agent``, ``e2e_kernel``); nothing here talks to the agent except
through its command line and the wire.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from rpc.client import ClientError
from tests.common.pyroute2_socket import Pyroute2Socket
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from vdsm_net.backends.killswitch import KILL_AT_WRITE_ENV
from vdsm_net.engine.adopt import tag_fields

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
    """``Created``, counted over netlink from this process (quicker than running ``ip`` in
    UML)."""

    def __init__(self, ns: str) -> None:
        self.pyroute2 = Pyroute2Socket(ns)

    def __call__(self) -> Created:
        return self.pyroute2.call(_created)

    def __enter__(self) -> ObjectCounter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.pyroute2.close()


def tagged_networks(ns: str) -> set[str]:
    """The networks the kernel's ownership tags (ifalias) name: what a restarted agent adopts."""
    return {
        fields["net"]
        for entry in k.links(ns).values()
        if "net" in (fields := tag_fields(entry.get("ifalias")))
    }


def link_names(ns: str) -> set[str]:
    return set(k.links(ns))


# -- an exact SIGKILL in the middle of an apply -----------------------------------------------
def plan_of(agent: Agent, networks: dict[str, Any], bondings: dict[str, Any],
            options: dict[str, Any]) -> list[dict[str, Any]]:
    """The ops ``Host.setupNetworks`` would write for this request, in order (planNetworks)."""
    with agent.client() as cli:
        answer = cli.call("Host.planNetworks",
                          {"networks": networks, "bondings": bondings, "options": options})
    plan = answer["plan"]
    assert isinstance(plan, list)
    return plan


def first_op(plan: list[dict[str, Any]], kind: str,
             where: Callable[[dict[str, Any]], bool] = lambda _op: True) -> int:
    """The index of the first op of ``kind`` (that ``where`` accepts): a write to kill at."""
    for index, op in enumerate(plan):
        if op["op"] == kind and where(op):
            return index
    raise AssertionError(f"no {kind} op in the plan: {plan}")


def sigkill_at_write(agent: Agent, write: int, networks: dict[str, Any],
                     bondings: dict[str, Any], options: dict[str, Any]) -> None:
    """Restart ``agent`` armed with VDSM_NET_TEST_SIGKILL_AT_WRITE=``write``, send the request,
    and see the connection drop and vdsm-netd die by SIGKILL right before that write. The agent
    is left dead; ``agent.start()`` brings it back unarmed."""
    agent.stop()
    with pytest.MonkeyPatch.context() as env:
        env.setenv(KILL_AT_WRITE_ENV, str(write))
        agent.start()
    assert "TEST HOOK ARMED" in agent.log(since_start=True)
    params = {"networks": networks, "bondings": bondings, "options": options}
    with agent.client() as cli, pytest.raises(ClientError, match="connection closed"):
        cli.call("Host.setupNetworks", params, timeout=EXIT_TIMEOUT)
    assert agent.proc is not None
    assert agent.proc.wait(EXIT_TIMEOUT) == -signal.SIGKILL, agent.log(since_start=True)
    assert f"SIGKILL before write {write}: " in agent.log(since_start=True)


def _kernel_view(ns: str) -> tuple[dict[str, str | None], set[tuple[str, str]]]:
    """Every link's master (None: none) and every global (link, addr/prefix)."""
    masters = {name: entry.get("master") for name, entry in k.links(ns).items()}
    addrs = {(entry["ifname"], f"{info['local']}/{info['prefixlen']}")
             for entry in k.ip_json(ns, "addr", "show")
             for info in entry.get("addr_info", []) if info.get("scope") == "global"}
    return masters, addrs


def visible(ns: str, plan: list[dict[str, Any]]) -> list[bool | None]:
    """For each op of ``plan``: is its effect in the kernel now (None: an op this does not
    check, such as up, MTU or tag)? Links created or deleted, ports attached or released and
    addresses added are checked."""
    masters, addrs = _kernel_view(ns)
    out: list[bool | None] = []
    for op in plan:
        kind = op["op"]
        if kind == "create_link":
            out.append(op["link"]["name"] in masters)
        elif kind == "delete_links":
            present = {name in masters for name in op["names"]}
            assert len(present) == 1, f"one write deleted only some of {op['names']}"
            out.append(not present.pop())
        elif kind == "set_master":
            out.append(op["name"] in masters and masters[op["name"]] == op.get("master"))
        elif kind == "add_address":
            out.append((op["address"]["ifname"], op["address"]["address"]) in addrs)
        else:
            out.append(None)
    return out
