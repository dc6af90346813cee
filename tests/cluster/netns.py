"""The cluster tier's wiring: a "switch" namespace with one bridge, and host namespaces whose
NICs are veth pairs to that switch. What a reboot leaves of a host, and reading a host's kernel.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

SWITCH_BRIDGE = "sw0"


def ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def ip_json(ns: str, *args: str) -> list[dict[str, Any]]:
    out = ip("-j", "-n", ns, *args)
    return list(json.loads(out)) if out.strip() else []


@dataclass
class Switch:
    ns: str

    def create(self) -> None:
        ip("netns", "add", self.ns)
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "link", "add", SWITCH_BRIDGE, "type", "bridge")
        ip("-n", self.ns, "link", "set", SWITCH_BRIDGE, "up")

    def port(self, name: str, up: bool) -> None:
        """Bring a switch port (the host NIC's far end) up or down: its carrier, seen by the
        host."""
        ip("-n", self.ns, "link", "set", name, "up" if up else "down")

    def delete(self) -> None:
        ip("netns", "del", self.ns, check=False)


@dataclass
class HostNet:
    """A host: a namespace with NICs eth0..eth{n-1}, each wired to a port of the switch."""

    name: str
    ns: str
    switch: Switch
    nics: int = 3

    def port_of(self, nic: str) -> str:
        return f"{self.name}-{nic}"

    def create(self) -> None:
        ip("netns", "add", self.ns)
        ip("-n", self.ns, "link", "set", "lo", "up")
        for i in range(self.nics):
            nic = f"eth{i}"
            peer = self.port_of(nic)
            ip("link", "add", nic, "netns", self.ns, "type", "veth",
               "peer", "name", peer, "netns", self.switch.ns)
            ip("-n", self.switch.ns, "link", "set", peer, "master", SWITCH_BRIDGE)
            ip("-n", self.switch.ns, "link", "set", peer, "up")

    def delete(self) -> None:
        ip("netns", "del", self.ns, check=False)

    # -- reading the host's kernel -----------------------------------------------------------
    def links(self) -> dict[str, dict[str, Any]]:
        return {link["ifname"]: link for link in ip_json(self.ns, "-d", "link", "show")}

    def addresses(self, dev: str) -> list[str]:
        out = []
        for link in ip_json(self.ns, "addr", "show", "dev", dev):
            for a in link.get("addr_info", []):
                if a.get("scope") == "global":
                    out.append(f"{a['local']}/{a['prefixlen']}")
        return out

    def has(self, dev: str) -> bool:
        return dev in self.links()

    def master(self, dev: str) -> str | None:
        link = self.links().get(dev)
        return None if link is None else link.get("master")

    def snapshot(self) -> dict[str, Any]:
        """Links (kind, master, mtu, admin state, vlan id) and global addresses: what must not
        change while nothing is pushed. Carrier and counters are left out."""
        out: dict[str, Any] = {}
        for name, link in sorted(self.links().items()):
            info = link.get("linkinfo", {})
            out[name] = {
                "kind": info.get("info_kind"), "master": link.get("master"),
                "mtu": link.get("mtu"), "up": "UP" in link.get("flags", []),
                "vlan": info.get("info_data", {}).get("id"),
                "addrs": sorted(self.addresses(name)),
            }
        return out

    # -- what a reboot leaves ----------------------------------------------------------------
    def wipe(self) -> None:
        """Every link the agent made is gone and every NIC is back to its boot state: no master,
        no address, no alias, default MTU, down. The NICs themselves (hardware) stay."""
        for name, link in self.links().items():
            kind = link.get("linkinfo", {}).get("info_kind")
            if name != "lo" and kind in ("bond", "vlan", "bridge"):
                ip("-n", self.ns, "link", "del", name, check=False)
        for name, link in self.links().items():
            if link.get("linkinfo", {}).get("info_kind") != "veth":
                continue
            if not name.startswith("eth"):  # a VM's tap does not outlive a reboot
                ip("-n", self.ns, "link", "del", name, check=False)
            else:
                ip("-n", self.ns, "link", "set", name, "nomaster", check=False)
                ip("-n", self.ns, "link", "set", name, "down", "mtu", "1500", "alias", "")
                ip("-n", self.ns, "addr", "flush", "dev", name)

    def foreign_port(self, name: str, bridge: str) -> None:
        """A VM's tap on ``bridge``: a veth pair ``name``/``name``p, ``name`` a port."""
        ip("-n", self.ns, "link", "add", name, "type", "veth", "peer", "name", name + "p")
        ip("-n", self.ns, "link", "set", name, "master", bridge)
        ip("-n", self.ns, "link", "set", name, "up")
        ip("-n", self.ns, "link", "set", name + "p", "up")

    def ping(self, address: str, count: int = 3) -> subprocess.CompletedProcess[str]:
        """busybox's ping (Debian's busybox package, which make test installs)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, "busybox", "ping", "-c", str(count), "-w", "15",
             address], capture_output=True, text=True, check=False)
