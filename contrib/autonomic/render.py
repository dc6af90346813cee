"""Render the cluster policy for one host: a plain ``setupNetworks`` request (pure).

What the host gets:
- every policy network and bond, with the policy's NIC names mapped through
  ``hosts[ID].nics``;
- ``ipv4pool``/``ipv6pool`` replaced by the host's own allocated address (``ipaddr``/``netmask``,
  ``ipv6addr``); ``required`` dropped (the manager's own key);
- its boot management network and bonds exactly as the host registered them. A policy that names
  the management network may only add properties (:data:`MGMT_PROPERTIES`); anything that would
  re-address or move it is an error, never applied.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MANAGER_KEYS = frozenset({"ipv4pool", "ipv6pool", "required"})
"""Policy keys that are the manager's and never reach the host."""

MGMT_PROPERTIES = frozenset({"mtu", "stp", "custom", "hostQos", "required"})
"""What a policy may set on a host's boot management network."""

DEFAULT_MGMT = "ovirtmgmt"

Addresses = Mapping[str, Mapping[str, str]]
"""``{network: {"ipv4": "A/P", "ipv6": "A/P"}}``: a host's allocations."""


class RenderError(Exception):
    """The policy cannot be rendered for this host; ``code`` is vdsm's (21 bad parameters)."""

    def __init__(self, message: str, code: int = 21) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class HostView:
    """What rendering needs to know of a registered host."""

    host_id: str
    mgmt_network: str | None = None
    mgmt_attrs: Mapping[str, Any] = field(default_factory=dict)
    mgmt_bondings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    networks: dict[str, dict[str, Any]]
    bondings: dict[str, dict[str, Any]]
    required: frozenset[str] = frozenset()


def properties_only(attrs: Mapping[str, Any]) -> bool:
    """A policy entry that only adds properties: it names a management network."""
    return set(attrs) <= MGMT_PROPERTIES


def _map_nic(nic_map: Mapping[str, str], name: Any) -> Any:
    return nic_map.get(name, name) if isinstance(name, str) else name


def _with_address(name: str, attrs: dict[str, Any], addresses: Addresses) -> dict[str, Any]:
    mine = addresses.get(name, {})
    if "ipv4pool" in attrs:
        address = mine.get("ipv4")
        if address is None:
            raise RenderError(f"network {name}: no address allocated from its ipv4pool")
        iface = ipaddress.IPv4Interface(address)
        attrs["ipaddr"] = str(iface.ip)
        attrs["netmask"] = str(iface.netmask)
        attrs["bootproto"] = "none"
    if "ipv6pool" in attrs:
        address = mine.get("ipv6")
        if address is None:
            raise RenderError(f"network {name}: no address allocated from its ipv6pool")
        attrs["ipv6addr"] = str(ipaddress.IPv6Interface(address))
        attrs["dhcpv6"] = False
        attrs["ipv6autoconf"] = False
    return {k: v for k, v in attrs.items() if k not in MANAGER_KEYS}


def _mgmt(name: str, host: HostView, policy_attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(host.mgmt_attrs))
    if policy_attrs is None:
        return out
    extra = sorted(set(policy_attrs) - MGMT_PROPERTIES)
    if extra:
        raise RenderError(
            f"network {name} is the host's management network: the policy may only add "
            f"{', '.join(sorted(MGMT_PROPERTIES))}, not {', '.join(extra)}"
        )
    for key, value in policy_attrs.items():
        if key not in MANAGER_KEYS:
            out[key] = copy.deepcopy(value)
    return out


def render_host(
    networks: Mapping[str, Mapping[str, Any]],
    bondings: Mapping[str, Mapping[str, Any]],
    nic_map: Mapping[str, str],
    host: HostView,
    addresses: Addresses,
) -> Rendered:
    """The ``setupNetworks`` networks and bondings for ``host`` (fullState: the whole picture)."""
    mgmt = host.mgmt_network
    out_nets: dict[str, dict[str, Any]] = {}
    for name, attrs in networks.items():
        if name == mgmt or properties_only(attrs):
            continue  # properties for a management network that is not this host's
        mapped = copy.deepcopy(dict(attrs))
        if "nic" in mapped:
            mapped["nic"] = _map_nic(nic_map, mapped["nic"])
        out_nets[name] = _with_address(name, mapped, addresses)
    if mgmt is not None:
        out_nets[mgmt] = _mgmt(mgmt, host, networks.get(mgmt))
    out_bonds: dict[str, dict[str, Any]] = {}
    for name, attrs in bondings.items():
        if name in host.mgmt_bondings:
            raise RenderError(f"bond {name} carries the host's management network: the policy "
                              "cannot redefine it", code=25)
        mapped = copy.deepcopy(dict(attrs))
        if isinstance(mapped.get("nics"), list):
            mapped["nics"] = [_map_nic(nic_map, n) for n in mapped["nics"]]
        out_bonds[name] = mapped
    for name, attrs in host.mgmt_bondings.items():
        out_bonds[name] = copy.deepcopy(dict(attrs))
    required = frozenset(n for n, a in networks.items() if a.get("required") is True)
    return Rendered(out_nets, out_bonds, required)
