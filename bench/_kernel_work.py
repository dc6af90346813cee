"""The benchmark's workload: N VLAN+bridge networks with an IPv4 address each, over one 802.3ad
bond of two dummies, as a setupNetworks request and as the equivalent `ip -batch` scripts."""

from __future__ import annotations

import subprocess
from typing import Any

BOND = "bond0"
SLAVES = ("dummy_0", "dummy_1")


def address(i: int) -> str:
    return f"10.{i // 250}.{i % 250}.1"


def request(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    nets = {
        f"net{i}": {"bonding": BOND, "vlan": i + 1, "bridged": True, "ipaddr": address(i),
                    "netmask": "255.255.255.0", "bootproto": "none"}
        for i in range(n)
    }
    return nets, {BOND: {"nics": list(SLAVES), "options": "mode=4 miimon=100"}}


def removal(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return {f"net{i}": {"remove": True} for i in range(n)}, {BOND: {"remove": True}}


def create_batch(n: int) -> str:
    lines = [f"link add {BOND} type bond mode 802.3ad miimon 100"]
    lines += [f"link set {s} master {BOND}" for s in SLAVES]
    for i in range(n):
        vlan = f"{BOND}.{i + 1}"
        lines += [f"link add link {BOND} name {vlan} type vlan id {i + 1}",
                  f"link add net{i} type bridge",
                  f"link set {vlan} master net{i}"]
    lines += [f"link set {BOND} up"]
    for i in range(n):
        lines += [f"link set {BOND}.{i + 1} up", f"link set net{i} up",
                  f"addr add {address(i)}/24 dev net{i}"]
    return "\n".join(lines) + "\n"


def delete_batch(n: int) -> str:
    lines = [f"link del net{i}" for i in range(n)]
    lines += [f"link del {BOND}.{i + 1}" for i in range(n)]
    lines += [f"link del {BOND}"]
    return "\n".join(lines) + "\n"


def ip(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def fresh_netns(name: str) -> None:
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")
    for s in SLAVES:
        ip("-n", name, "link", "add", s, "type", "dummy")
