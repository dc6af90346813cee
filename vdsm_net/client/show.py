"""``vdsm-net-client show`` and ``check``: the host's networks as a tree from getCapabilities,
and the running config against the kernel (``Host.checkNetworks``) in ``ifquery -c`` style."""

from __future__ import annotations

from typing import Any


def _device_text(name: str, caps: dict[str, Any]) -> tuple[str, list[str]]:
    """A device's label and the devices under it (bridge ports, VLAN base, bond slaves)."""
    if name in caps.get("bridges", {}):
        br = caps["bridges"][name]
        return f"{name}  bridge, stp {br.get('stp', '?')}, mtu {br.get('mtu', '?')}", sorted(
            br.get("ports", []))
    if name in caps.get("vlans", {}):
        vl = caps["vlans"][name]
        return f"{name}  vlan {vl.get('vlanid', '?')}, mtu {vl.get('mtu', '?')}", [vl["iface"]]
    if name in caps.get("bondings", {}):
        bond = caps["bondings"][name]
        opts = " ".join(f"{k}={v}" for k, v in sorted(bond.get("opts", {}).items())
                        if k in ("mode", "miimon", "xmit_hash_policy"))
        return f"{name}  bond {opts}, mtu {bond.get('mtu', '?')}".rstrip(), sorted(
            bond.get("slaves", []))
    nic = caps.get("nics", {}).get(name)
    if nic is not None:
        speed = nic.get("speed")
        return f"{name}  nic{f', {speed} Mb/s' if speed else ''}, mtu {nic.get('mtu', '?')}", []
    return f"{name}  (not managed)", []


def _tree(name: str, caps: dict[str, Any], prefix: str, seen: set[str]) -> list[str]:
    label, children = _device_text(name, caps)
    lines = [label]
    if name in seen:
        return lines
    seen.add(name)
    for i, child in enumerate(children):
        last = i == len(children) - 1
        sub = _tree(child, caps, prefix + ("    " if last else "│   "), seen)
        lines.append(prefix + ("└── " if last else "├── ") + sub[0])
        lines += sub[1:]
    return lines


def _addresses(net: dict[str, Any]) -> str:
    addrs = list(net.get("ipv4addrs", [])) + list(net.get("ipv6addrs", []))
    parts = [", ".join(addrs) if addrs else "no address"]
    if net.get("dhcpv4"):
        parts.append("dhcp")
    if net.get("gateway"):
        parts.append(f"gw {net['gateway']}")
    if net.get("ipv4defaultroute"):
        parts.append("default route")
    return ", ".join(parts)


def show_tree(caps: dict[str, Any]) -> str:
    """Each network with its addresses, then its device stack down to the NICs."""
    networks = caps.get("networks", {})
    if not networks:
        return "no networks\n"
    out: list[str] = []
    for name in sorted(networks):
        net = networks[name]
        out.append(f"{name}: {_addresses(net)}")
        top = net.get("iface") or name
        sub = _tree(top, caps, "    ", set())
        out.append("└── " + sub[0])
        out += sub[1:]
    return "\n".join(out) + "\n"


def check_lines(result: dict[str, Any]) -> tuple[list[str], int]:
    """``[ ok ]`` per network that matches and ``[fail]`` per differing attribute; status 1
    when anything differs."""
    diffs: list[str] = list(result.get("differences", []))
    lines = [f"[fail] {d}" for d in diffs]
    for name in result.get("networks", []):
        if not any(d.startswith((f"{name}.", f"{name}:", f"{name} ")) for d in diffs):
            lines.append(f"[ ok ] {name}")
    if not diffs:
        lines.append("the kernel matches the running config")
    return lines, 1 if diffs else 0
