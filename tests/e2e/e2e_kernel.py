"""Kernel facts for the e2e tier, read with iproute2 (``ip -n NS -d -j ...``), never through the
agent: the second witness next to getCapabilities.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.common.iproute import ip

__all__ = ["ip"]

NICS = ("dummy_0", "dummy_1", "dummy_2", "dummy_3")
"""vdsm's fake_nics pattern (dummy_*), so the agent reports them as NICs."""

_counter = itertools.count()

# What `ip -j` shows that the kernel changes on its own, with no write by anyone: counters, and
# carrier state (operstate, LOWER_UP), which a bridge or a mode-4 bond reaches seconds later;
# the qdisc, which is "noop" until a link is first up and then stays the default one.
_VOLATILE_LINK_KEYS = frozenset({"stats", "stats64", "operstate", "qdisc"})
_CARRIER_FLAGS = frozenset({"LOWER_UP", "NO-CARRIER", "DORMANT"})
# A bond port's link monitor and LACP state (mii_status, state, link_failure_count, ad_*) and the
# bond's ad_info move with carrier and LACP timers, also with no write.
_BOND_PORT_RUNTIME = frozenset({"mii_status", "state", "link_failure_count"})
_VOLATILE_ADDR_KEYS = frozenset({"tentative", "valid_life_time", "preferred_life_time"})


def ip_json(ns: str, *args: str) -> list[dict[str, Any]]:
    """``ip -n NS -d -j ARGS`` as parsed JSON (a list of objects)."""
    out = ip("-n", ns, "-d", "-j", *args).strip()
    doc = json.loads(out) if out else []
    assert isinstance(doc, list), f"ip -j {' '.join(args)} gave {doc!r}"
    return doc


def links(ns: str) -> dict[str, dict[str, Any]]:
    """Every link in the namespace by name."""
    return {entry["ifname"]: entry for entry in ip_json(ns, "link", "show")}


def link_kind(entry: dict[str, Any]) -> str | None:
    kind = entry.get("linkinfo", {}).get("info_kind")
    return str(kind) if kind is not None else None


def link_data(entry: dict[str, Any]) -> dict[str, Any]:
    """``linkinfo.info_data``: bond mode, VLAN id, bridge stp_state and the like."""
    data = entry.get("linkinfo", {}).get("info_data", {})
    assert isinstance(data, dict)
    return data


def addresses(ns: str, ifname: str, family: str = "inet") -> list[str]:
    """The global ``addr/prefixlen`` of one family on one link."""
    out = []
    for entry in ip_json(ns, "addr", "show", "dev", ifname):
        for info in entry.get("addr_info", []):
            if info.get("family") == family and info.get("scope") == "global":
                out.append(f"{info['local']}/{info['prefixlen']}")
    return out


def routes(ns: str, *selector: str) -> list[dict[str, Any]]:
    """``ip route show [selector]``, IPv4, e.g. ``routes(ns, "table", "all")``."""
    return ip_json(ns, "-4", "route", "show", *selector)


def default_route(ns: str) -> dict[str, Any] | None:
    """The IPv4 default route of the main table, if any."""
    found = [r for r in routes(ns) if r.get("dst") == "default"]
    return found[0] if found else None


def _without_timers(value: Any) -> Any:
    """Drop the bridge's running timers (``hello_timer``, ``gc_timer``, a port's
    ``hold_timer``...): they tick on their own."""
    if isinstance(value, dict):
        return {k: _without_timers(v) for k, v in value.items() if not k.endswith("_timer")}
    if isinstance(value, list):
        return [_without_timers(v) for v in value]
    return value


def _link_facts(entry: dict[str, Any]) -> dict[str, Any]:
    facts = {k: v for k, v in entry.items() if k not in _VOLATILE_LINK_KEYS}
    facts["flags"] = [f for f in entry.get("flags", []) if f not in _CARRIER_FLAGS]
    info = dict(facts.get("linkinfo", {}))
    if isinstance(info.get("info_slave_data"), dict) and info.get("info_slave_kind") == "bond":
        info["info_slave_data"] = {k: v for k, v in info["info_slave_data"].items()
                                   if k not in _BOND_PORT_RUNTIME and not k.startswith("ad_")}
    if isinstance(info.get("info_data"), dict) and info.get("info_kind") == "bond":
        info["info_data"] = {k: v for k, v in info["info_data"].items() if k != "ad_info"}
    if info:
        facts["linkinfo"] = info
    facts = _without_timers(facts)
    assert isinstance(facts, dict)
    return facts


def ip_json_batch(ns: str, *commands: str) -> list[list[dict[str, Any]]]:
    """Several ``ip -d -j`` show commands in one process (``-batch``), one parsed list each.
    Spawning ``ip`` is the slow part inside UML. (A batch line takes no global option such as -6.)
    """
    done = subprocess.run(["ip", "-n", ns, "-d", "-j", "-batch", "-"], input="\n".join(commands),
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip -batch {commands}: {done.stderr.strip()}")
    decoder, text, pos, docs = json.JSONDecoder(), done.stdout, 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    assert len(docs) == len(commands), f"ip -batch {commands} gave {len(docs)} documents"
    return docs


def _addr_facts(entries: list[dict[str, Any]]) -> list[str]:
    """Every configured address as one sorted JSON line each. IPv6 link-local addresses and
    DAD progress are the kernel's own doing as links come up, never a write, so they are left
    out."""
    out = []
    for entry in entries:
        for info in entry.get("addr_info", []):
            if info.get("family") == "inet6" and info.get("scope") == "link":
                continue
            fact = {k: v for k, v in info.items() if k not in _VOLATILE_ADDR_KEYS}
            out.append(json.dumps({"ifname": entry["ifname"], **fact}, sort_keys=True))
    return sorted(out)


def _route_facts(entries: list[dict[str, Any]]) -> list[str]:
    """Routes, except the kernel's own (subnet, local and link-local routes follow from
    addresses and links, which the dump already holds)."""
    return sorted(
        json.dumps(route, sort_keys=True) for route in entries if route.get("protocol") != "kernel"
    )


def dump(ns: str) -> dict[str, Any]:
    """Everything the agent may change in the namespace, for before/after comparisons: links
    (with their -d details) by name, addresses, routes of all tables and rules."""
    link_list, addrs, routes4, rules = ip_json_batch(
        ns, "link show", "addr show", "route show table all", "rule show"
    )
    return {
        "links": {entry["ifname"]: _link_facts(entry) for entry in link_list},
        "addrs": _addr_facts(addrs),
        "routes4": _route_facts(routes4),
        "routes6": _route_facts(ip_json(ns, "-6", "route", "show", "table", "all")),
        "rules": sorted(json.dumps(r, sort_keys=True) for r in rules),
    }


def settled_dump(ns: str, timeout: float = 10.0) -> dict[str, Any]:
    """A dump once two in a row, 200 ms apart, agree (links coming up settle for a moment)."""
    deadline = time.monotonic() + timeout
    last = dump(ns)
    while True:
        time.sleep(0.2)
        now = dump(ns)
        if now == last or time.monotonic() > deadline:
            return now
        last = now


def _leaf_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """``path: old -> new`` for each differing leaf of two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            out += _leaf_changes(old.get(key), new.get(key), sub)
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def dump_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Readable differences between two dumps ([] when equal)."""
    out = []
    old_links, new_links = before["links"], after["links"]
    for name in sorted(set(old_links) | set(new_links)):
        old, new = old_links.get(name), new_links.get(name)
        if old is None or new is None:
            out.append(f"link {name}: {'added' if old is None else 'deleted'}")
            continue
        out += [f"link {name}.{change}" for change in _leaf_changes(old, new)]
    for key in ("addrs", "routes4", "routes6", "rules"):
        out += [f"{key} lost: {fact}" for fact in before[key] if fact not in after[key]]
        out += [f"{key} new: {fact}" for fact in after[key] if fact not in before[key]]
    return out


@contextmanager
def nic_namespace(nics: tuple[str, ...] = NICS) -> Iterator[str]:
    """A fresh namespace (lo up) with dummy NICs, deleted afterwards with all it holds."""
    name = f"e2e{os.getpid()}_{next(_counter)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        for nic in nics:
            ip("-n", name, "link", "add", nic, "type", "dummy")
        yield name
    finally:
        ip("netns", "del", name)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it holds; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
