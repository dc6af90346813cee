"""Kernel facts for the e2e tier, read with iproute2 (``ip -n NS -d -j ...``), never through the
agent: the second witness next to getCapabilities.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.kernel.conftest import ip

NICS = ("dummy_0", "dummy_1", "dummy_2", "dummy_3")
"""vdsm's fake_nics pattern (dummy_*), so the agent reports them as NICs."""

_counter = itertools.count()

# Keys of `ip -j` output that the kernel changes on its own, with no write by anyone.
_VOLATILE_LINK_KEYS = frozenset({"stats", "stats64"})


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


def dump(ns: str) -> dict[str, Any]:
    """Everything the agent may change in the namespace, for before/after comparisons: links
    (with their -d details), addresses, routes of all tables and rules."""
    link_list = []
    for entry in ip_json(ns, "link", "show"):
        link_list.append({k: v for k, v in entry.items() if k not in _VOLATILE_LINK_KEYS})
    return {
        "links": sorted(link_list, key=lambda e: str(e["ifname"])),
        "addrs": ip_json(ns, "addr", "show"),
        "routes4": ip_json(ns, "-4", "route", "show", "table", "all"),
        "routes6": ip_json(ns, "-6", "route", "show", "table", "all"),
        "rules": ip_json(ns, "rule", "show"),
    }


def dump_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Readable differences between two dumps ([] when equal)."""
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key == "links":
            old = {e["ifname"]: e for e in before.get(key, [])}
            new = {e["ifname"]: e for e in after.get(key, [])}
            for name in sorted(set(old) | set(new)):
                if old.get(name) != new.get(name):
                    out.append(f"link {name}: {old.get(name)} -> {new.get(name)}")
        else:
            out.append(f"{key}: {before.get(key)} -> {after.get(key)}")
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
