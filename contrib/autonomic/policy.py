"""The cluster policy: parse it and validate it with the agent's own rules.

A policy is vdsm's ``setupNetworks`` vocabulary for the whole cluster::

    {"networks": {NAME: {setupNetworks attributes, "ipv4pool": CIDR, "ipv6pool": CIDR,
                         "required": true}},
     "bondings": {NAME: {setupNetworks bonding attributes}},
     "hosts": {HOSTID: {"nics": {"policyNic": "hostNic"}}},
     "options": {"connectivityTimeout": seconds},
     "master": "manager" | "engine", "restoreGrace": seconds}

``"master": "engine"`` (engine-follower mode, ``follower.py``): the engine configures the hosts and
the manager pushes no policy; it only restores a rebooted host's last safe configuration when no
engine applied anything within ``restoreGrace`` seconds (default 60). Such a policy names no
networks, bonds or hosts.

Validation renders the policy for a host that has exactly the NICs the policy names (and once more
for every host named under ``hosts``, with its NIC map) and runs the agent's canonicalize and
validate on that request (``Engine.prepare`` on the simulated kernel): one set of rules, the ones
the hosts themselves apply. The manager's keys are checked here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autonomic.pools import FAMILIES, IPNetwork, candidates, parse_pool
from autonomic.render import DEFAULT_MGMT, MGMT_PROPERTIES, HostView, RenderError, render_host
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError

TOP_KEYS = frozenset({"networks", "bondings", "hosts", "options", "master", "restoreGrace"})
OPTION_KEYS = frozenset({"connectivityTimeout"})
DEFAULT_CONNECTIVITY_TIMEOUT = 10
MANAGER = "manager"
ENGINE = "engine"
MASTERS = (MANAGER, ENGINE)
DEFAULT_RESTORE_GRACE = 60.0


class PolicyError(Exception):
    """A policy that is refused, with vdsm's code (21 bad parameters unless the agent's own
    validation said otherwise)."""

    def __init__(self, message: str, code: int = ERR_BAD_PARAMS) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"(code={self.code}, message={self.message})"


@dataclass(frozen=True)
class Policy:
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    bondings: dict[str, dict[str, Any]] = field(default_factory=dict)
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    connectivity_timeout: int = DEFAULT_CONNECTIVITY_TIMEOUT
    master: str = MANAGER
    restore_grace: float = DEFAULT_RESTORE_GRACE

    @property
    def engine_master(self) -> bool:
        """Engine-follower mode: no policy is pushed, rebooted hosts get their safe config."""
        return self.master == ENGINE

    def pools(self, network: str) -> dict[str, IPNetwork]:
        """``{"ipv4": pool, "ipv6": pool}`` for the pools this network has."""
        attrs = self.networks.get(network, {})
        return {fam: parse_pool(key, attrs[key]) for key, fam in FAMILIES.items() if key in attrs}

    def reserved(self, network: str) -> list[str]:
        """Addresses a pool never gives: the network's gateways."""
        attrs = self.networks.get(network, {})
        return [attrs[k] for k in ("gateway", "ipv6gateway") if isinstance(attrs.get(k), str)]

    def nic_map(self, host_id: str) -> dict[str, str]:
        return self.hosts.get(host_id, {})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"networks": self.networks, "bondings": self.bondings}
        if self.hosts:
            out["hosts"] = {h: {"nics": m} for h, m in self.hosts.items()}
        if self.connectivity_timeout != DEFAULT_CONNECTIVITY_TIMEOUT:
            out["options"] = {"connectivityTimeout": self.connectivity_timeout}
        if self.master != MANAGER:
            out["master"] = self.master
        if self.restore_grace != DEFAULT_RESTORE_GRACE:
            out["restoreGrace"] = self.restore_grace
        return out


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{what} must be a JSON object")
    return value


def _hosts(value: object) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for host_id, entry in _object(value, "hosts").items():
        entry = _object(entry, f"hosts.{host_id}")
        if set(entry) - {"nics"}:
            raise PolicyError(f"hosts.{host_id}: only 'nics' is known, not {sorted(entry)}")
        nics = _object(entry.get("nics", {}), f"hosts.{host_id}.nics")
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in nics.items()):
            raise PolicyError(f"hosts.{host_id}.nics maps NIC names to NIC names")
        out[host_id] = dict(nics)
    return out


def _timeout(options: dict[str, Any]) -> int:
    if set(options) - OPTION_KEYS:
        raise PolicyError(f"options: only {sorted(OPTION_KEYS)} are known, not {sorted(options)}")
    value = options.get("connectivityTimeout", DEFAULT_CONNECTIVITY_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600:
        raise PolicyError("options.connectivityTimeout must be an integer of seconds (1-600)")
    return value


def _master(top: dict[str, Any]) -> tuple[str, float]:
    master = top.get("master", MANAGER)
    if master not in MASTERS:
        raise PolicyError(f"master must be one of {', '.join(MASTERS)}, not {master!r}")
    grace = top.get("restoreGrace", DEFAULT_RESTORE_GRACE)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= 86400:
        raise PolicyError("restoreGrace must be a number of seconds (0-86400)")
    if master == ENGINE and any(top.get(k) for k in ("networks", "bondings", "hosts")):
        raise PolicyError("with master 'engine' the engine gives the networks: the policy "
                          "names no networks, bondings or hosts")
    return str(master), float(grace)


def _check_network(name: str, attrs: dict[str, Any]) -> None:
    if "required" in attrs and not isinstance(attrs["required"], bool):
        raise PolicyError(f"network {name}: required must be true or false")
    if "ipv4pool" in attrs and ({"ipaddr", "netmask", "prefix"} & set(attrs)
                                or attrs.get("bootproto") == "dhcp"):
        raise PolicyError(f"network {name}: ipv4pool replaces ipaddr/netmask and DHCP")
    if "ipv6pool" in attrs and ("ipv6addr" in attrs or attrs.get("dhcpv6") is True
                                or attrs.get("ipv6autoconf") is True):
        raise PolicyError(f"network {name}: ipv6pool replaces ipv6addr, DHCPv6 and autoconf")
    if attrs.get("remove") is not None:
        raise PolicyError(f"network {name}: a policy lists what exists; leave a network out "
                          "to remove it")
    for key in FAMILIES:
        if key in attrs:
            try:
                parse_pool(key, attrs[key])
            except ValueError as exc:
                raise PolicyError(f"network {name}: {exc}") from None


def parse_policy(doc: object) -> Policy:
    """The policy's shape and the manager's own keys (not yet the agent's rules)."""
    top = _object(doc, "the policy")
    if set(top) - TOP_KEYS:
        raise PolicyError(f"unknown policy keys: {sorted(set(top) - TOP_KEYS)}")
    networks = _object(top.get("networks", {}), "networks")
    bondings = _object(top.get("bondings", {}), "bondings")
    for name, attrs in networks.items():
        _check_network(name, _object(attrs, f"network {name}"))
    for name, attrs in bondings.items():
        _object(attrs, f"bond {name}")
    master, grace = _master(top)
    return Policy(
        networks=networks,
        bondings=bondings,
        hosts=_hosts(top.get("hosts", {})),
        connectivity_timeout=_timeout(_object(top.get("options", {}), "options")),
        master=master,
        restore_grace=grace,
    )


def _sample_addresses(policy: Policy) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name in policy.networks:
        for family, pool in policy.pools(name).items():
            first = next(candidates(pool, policy.reserved(name)), None)
            if first is None:
                raise PolicyError(f"network {name}: its {family} pool has no free address")
            out.setdefault(name, {})[family] = f"{first}/{pool.prefixlen}"
    return out


def _nics_named(networks: Mapping[str, Any], bondings: Mapping[str, Any]) -> set[str]:
    nics = {a["nic"] for a in networks.values() if isinstance(a.get("nic"), str)}
    for attrs in bondings.values():
        nics.update(n for n in attrs.get("nics", []) if isinstance(n, str))
    return nics


def _check_with_agent(policy: Policy, host_id: str, mgmt_names: set[str],
                      mgmt_bonds: Mapping[str, Mapping[str, Any]]) -> None:
    """Render for one (generic or named) host and run the agent's own validation on it; the
    hosts' management bonds exist there (a policy network may be a VLAN on one)."""
    networks = {n: a for n, a in policy.networks.items() if n not in mgmt_names}
    for name in mgmt_names & set(policy.networks):
        extra = sorted(set(policy.networks[name]) - MGMT_PROPERTIES)
        if extra:
            raise PolicyError(f"network {name} is a management network: the policy may only add "
                              f"{', '.join(sorted(MGMT_PROPERTIES))}, not {', '.join(extra)}")
    try:
        rendered = render_host(networks, policy.bondings, policy.nic_map(host_id),
                               HostView(host_id, mgmt_bondings=mgmt_bonds),
                               _sample_addresses(policy))
    except RenderError as exc:
        raise PolicyError(exc.message, exc.code) from None
    backend = MemoryKernel(nics=sorted(_nics_named(rendered.networks, rendered.bondings)))
    options = {"fullState": True, "connectivityCheck": False}
    try:
        Engine(backend).prepare(rendered.networks, rendered.bondings, options)
    except NetworkError as exc:
        where = f" (for host {host_id})" if host_id else ""
        raise PolicyError(f"{exc.message}{where}", exc.code) from None
    except (TypeError, ValueError, AttributeError) as exc:  # a shape canonicalize did not expect
        raise PolicyError(f"invalid policy: {exc}") from None


def validate_policy(doc: object, mgmt_names: Iterable[str] = (),
                    mgmt_bonds: Mapping[str, Mapping[str, Any]] | None = None) -> Policy:
    """Parse and validate; raise PolicyError for a policy no host could take.

    ``mgmt_names`` are the management networks of the registered hosts (``ovirtmgmt`` always):
    the policy may name them only to add properties. ``mgmt_bonds`` are their management bonds
    (``{name: bonding attributes}``): the policy may put networks on them, never redefine
    them."""
    policy = parse_policy(doc)
    names = {DEFAULT_MGMT, *mgmt_names}
    bonds = dict(mgmt_bonds or {})
    _check_with_agent(policy, "", names, bonds)
    for host_id in policy.hosts:
        _check_with_agent(policy, host_id, names, bonds)
    return policy


def load_policy(raw: bytes) -> Policy:
    """A stored policy (already validated when it was set)."""
    try:
        return parse_policy(json.loads(raw))
    except ValueError as exc:
        raise PolicyError(f"the stored policy is not JSON: {exc}") from None
