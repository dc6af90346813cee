"""The script busybox ``udhcpc`` runs at each DHCPv4 event: ``python -m <this module> ACTION``.

udhcpc speaks the protocol (discover, renew, rebind, release) and keeps the lease in memory only;
this hook turns its events into kernel state with iproute2 and records the lease as JSON in the
state file the manager gave it (under /run or /tmp), which is how the agent learns of a new lease.

- ``bound``/``renew``: the leased address; the default route via the lease's router in the
  network's table (254 for the default-route network, else its source table, where the subnet
  route and the ``from``/``to`` rules at priority 3200 are added too, as vdsm's DHCP monitor does).
  Routes are ``proto static`` like every route the agent plans, so a later plan can delete them.
- ``deconfig`` (lease lost, released): the recorded lease is removed again. The first deconfig
  after the manager starts a client (udhcpc always sends one) is skipped, so a restarted agent
  does not drop an address that is still leased. A deconfig with no lease recorded flushes the
  link's IPv4 addresses and its table, as udhcpc's default script does: a static→DHCP switch
  leaves nothing stale.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vdsm_net.model.kernel import MAIN_TABLE, SOURCE_RULE_PRIORITY

ENV_TABLE = "VDSM_NET_DHCP_TABLE"
ENV_STATE = "VDSM_NET_DHCP_STATE"
START_SUFFIX = ".start"


def lease_from_env(env: Mapping[str, str], table: int) -> dict[str, Any] | None:
    """The lease udhcpc describes in its environment, or None when it names no address."""
    ip, iface = env.get("ip"), env.get("interface")
    if not ip or not iface:
        return None
    prefix = int(env.get("mask") or ipaddress.IPv4Network(f"0.0.0.0/{env.get('subnet')}").prefixlen)
    routers = (env.get("router") or "").split()
    return {
        "interface": iface,
        "address": f"{ip}/{prefix}",
        "router": routers[0] if routers else None,
        "dns": (env.get("dns") or "").split(),
        "lease": int(env.get("lease") or 0),
        "table": table,
    }


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, check=False)


def configure(lease: Mapping[str, Any]) -> None:
    dev, addr, table = lease["interface"], lease["address"], str(lease["table"])
    _ip("-4", "addr", "replace", addr, "dev", dev)
    subnet = str(ipaddress.IPv4Interface(addr).network)
    if lease["table"] != MAIN_TABLE:
        _ip("-4", "route", "replace", subnet, "dev", dev, "table", table, "scope", "link",
            "proto", "static")
    if lease["router"]:
        _ip("-4", "route", "replace", "default", "via", lease["router"], "dev", dev,
            "table", table, "proto", "static")
    if lease["table"] != MAIN_TABLE:
        for way in ("from", "to"):
            rule = (way, subnet, "table", table, "priority", str(SOURCE_RULE_PRIORITY))
            _ip("-4", "rule", "del", *rule)
            _ip("-4", "rule", "add", *rule)


def unconfigure(lease: Mapping[str, Any]) -> None:
    dev, addr, table = lease["interface"], lease["address"], str(lease["table"])
    subnet = str(ipaddress.IPv4Interface(addr).network)
    if lease["table"] != MAIN_TABLE:
        for way in ("from", "to"):
            _ip("-4", "rule", "del", way, subnet, "table", table,
                "priority", str(SOURCE_RULE_PRIORITY))
    if lease["router"]:
        _ip("-4", "route", "del", "default", "via", lease["router"], "dev", dev, "table", table)
    if lease["table"] != MAIN_TABLE:
        _ip("-4", "route", "del", subnet, "dev", dev, "table", table)
    _ip("-4", "addr", "del", addr, "dev", dev)


def flush(dev: str, table: int) -> None:
    """Remove the link's global IPv4 addresses and, off the main table, the table's routes
    and source rules (the state of a static configuration this client replaces)."""
    if not dev:
        return
    _ip("-4", "addr", "flush", "dev", dev, "scope", "global")
    if table != MAIN_TABLE:
        _ip("-4", "route", "flush", "table", str(table))
        for _ in range(8):
            done = subprocess.run(
                ["ip", "-4", "rule", "del", "priority", str(SOURCE_RULE_PRIORITY),
                 "table", str(table)], capture_output=True, check=False)
            if done.returncode:
                break


def read_lease(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_lease(path: Path, lease: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(lease, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def handle(action: str, env: Mapping[str, str]) -> None:
    state = Path(env[ENV_STATE])
    table = int(env.get(ENV_TABLE, str(MAIN_TABLE)))
    old = read_lease(state)
    if action == "deconfig":
        marker = state.with_name(state.name + START_SUFFIX)
        if marker.exists():
            marker.unlink()
            return
        if old is not None:
            unconfigure(old)
            state.unlink(missing_ok=True)
        else:  # a fresh client: what an earlier static config left on the link goes
            flush(env.get("interface", ""), table)
    elif action in ("bound", "renew"):
        new = lease_from_env(env, table)
        if new is None:
            return
        if old is not None and (old["address"], old["router"]) != (new["address"], new["router"]):
            unconfigure(old)
        configure(new)
        write_lease(state, new)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or ENV_STATE not in os.environ:
        print("usage: VDSM_NET_DHCP_STATE=FILE python -m vdsm_net.dynamic.dhcp_hook ACTION",
              file=sys.stderr)
        return 2
    handle(argv[1], os.environ)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
