"""Canonicalization: the engine's ``setupNetworks`` arguments -> a typed ``Request``.

Follows vdsm-wire §3.1, §3.2 and §4.2: the engine's string forms (``"true"``, ``"yes"``,
``"100"``, ``prefix``) become typed values with vdsm's defaults. Pure: the inputs are never mutated,
and the only errors raised are the canonicalization errors of §4.3 step 1 (plus bad bond
options, 25, and a bad vlan string, 26). Everything else is left for ``validate``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from vdsm_net.engine.limits import check_request_size
from vdsm_net.engine.qos import parse_host_qos
from vdsm_net.model.bridgeopts import strip_bridge_defaults
from vdsm_net.model.desired import DEFAULT_MTU, Bond, Network, Options, Request, RunningConfig
from vdsm_net.model.errors import (
    ERR_BAD_ADDR,
    ERR_BAD_BONDING,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    NetworkError,
)
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.linkopts import canonical_bond_options, parse_pairs

_STP_TRUE = frozenset({"true", "on", "yes"})
_STP_FALSE = frozenset({"false", "off", "no"})


def tobool(value: object) -> bool:
    """vdsm's ``tobool``: bools as they are, ``"true"`` (any case) is true, numeric strings go
    through ``int()``, anything else is false (so ``"yes"`` is false). Ints count as numbers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        if value.lower() == "true":
            return True
        try:
            return int(value) != 0
        except ValueError:
            return False
    return False


def stp_bool(value: object, network: str) -> bool:
    """The stricter STP conversion: bools, true/on/yes and false/off/no; anything else is 21."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.lower()
        if text in _STP_TRUE:
            return True
        if text in _STP_FALSE:
            return False
    raise NetworkError(ERR_BAD_PARAMS, f"Invalid value for STP of network {network}: {value!r}")


def _is_removed(attrs: Mapping[str, Any]) -> bool:
    return tobool(attrs.get("remove", False))


def _mapping(value: object, what: str, code: int = ERR_BAD_PARAMS) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise NetworkError(code, f"{what} must be a map, got {type(value).__name__}")
    return value


def _custom(name: str, attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(attrs.get("custom"), f"custom of network {name}")


def _claims_default_route(name: str, attrs: Mapping[str, Any]) -> bool:
    custom = _custom(name, attrs)
    if "default_route" in custom:  # deprecated; overrides defaultRoute (vdsm warns)
        return tobool(custom["default_route"])
    return tobool(attrs.get("defaultRoute", False))


def _text(value: object) -> str | None:
    """An optional string attribute; None and '' mean absent."""
    if value is None or value == "":
        return None
    return str(value)


def _int(value: object) -> int:
    """``int()`` of an int or a string; bools and anything else are ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    raise ValueError(value)


def _mtu(name: str, value: object) -> int:
    if value is None:
        return DEFAULT_MTU
    try:
        mtu = _int(value)
    except ValueError:
        raise NetworkError(ERR_BAD_PARAMS, f"Invalid mtu of network {name}: {value!r}") from None
    if not 68 <= mtu <= 65535:
        raise NetworkError(ERR_BAD_PARAMS, f"Invalid mtu of network {name}: {mtu}")
    return mtu


def _vlan(name: str, value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return _int(value)
    except ValueError:
        raise NetworkError(ERR_BAD_VLAN, f"Invalid vlan id of network {name}: {value!r}") from None


def _netmask(name: str, attrs: Mapping[str, Any]) -> str | None:
    prefix = attrs.get("prefix")
    netmask = _text(attrs.get("netmask"))
    if prefix is None or prefix == "":
        return netmask
    if netmask is not None:
        raise NetworkError(
            ERR_BAD_PARAMS, f"Network {name}: both PREFIX and NETMASK were given; use one"
        )
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{_int(prefix)}").netmask)
    except ValueError:
        raise NetworkError(ERR_BAD_ADDR, f"Bad prefix of network {name}: {prefix!r}") from None


def _ipv6addr(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        return text  # validate says ERR_BAD_ADDR
    return str(iface) if iface.version == 6 else text


def _nameservers(
    name: str, attrs: Mapping[str, Any], default_route: bool, bootproto: str,
    host_nameservers: Sequence[str],
) -> tuple[str, ...]:
    given = attrs.get("nameservers")
    if given is None:
        if default_route and bootproto != "dhcp":
            return tuple(host_nameservers)
        return ()
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise NetworkError(ERR_BAD_PARAMS, f"nameservers of network {name} must be a list")
    return tuple(str(server) for server in given)


def _bridge_opts(name: str, custom: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    text = custom.get("bridge_opts")
    if text is None or text == "":
        return ()
    try:
        return strip_bridge_defaults(parse_pairs(str(text)))
    except ValueError as err:
        raise NetworkError(ERR_BAD_PARAMS, f"Bad bridge_opts of network {name}: {err}") from None


def canonical_network(
    name: str, attrs: Mapping[str, Any], host_nameservers: Sequence[str] = ()
) -> Network:
    """One non-removed network's attributes -> a ``Network`` with vdsm's defaults."""
    custom = _custom(name, attrs)
    bridged = tobool(attrs.get("bridged", True))
    stp = False
    bridge_opts: tuple[tuple[str, str], ...] = ()
    if bridged:
        stp = stp_bool(attrs.get("stp", attrs.get("STP")), name)
        bridge_opts = _bridge_opts(name, custom)
    bootproto = str(attrs.get("bootproto") or "none")
    default_route = _claims_default_route(name, attrs)
    switch = "ovs" if tobool(custom.get("ovs", False)) else str(attrs.get("switch") or "legacy")
    return Network(
        name=name,
        nic=_text(attrs.get("nic")),
        bonding=_text(attrs.get("bonding")),
        vlan=_vlan(name, attrs.get("vlan")),
        bridged=bridged,
        stp=stp,
        mtu=_mtu(name, attrs.get("mtu")),
        ipaddr=_text(attrs.get("ipaddr")),
        netmask=_netmask(name, attrs),
        gateway=_text(attrs.get("gateway")),
        bootproto=bootproto,
        dhcpv6=tobool(attrs.get("dhcpv6", False)),
        ipv6autoconf=tobool(attrs.get("ipv6autoconf", False)),
        ipv6addr=_ipv6addr(attrs.get("ipv6addr")),
        ipv6gateway=_text(attrs.get("ipv6gateway")),
        default_route=default_route,
        nameservers=_nameservers(name, attrs, default_route, bootproto, host_nameservers),
        switch=switch,
        bridge_opts=bridge_opts,
        custom=tuple(sorted((str(k), str(v)) for k, v in custom.items() if k != "bridge_opts")),
        host_qos=parse_host_qos(name, attrs.get("hostQos")),
    )


def canonical_bond(name: str, attrs: Mapping[str, Any]) -> Bond:
    """One non-removed bond's attributes -> a ``Bond`` (sorted nics, numerized options)."""
    nics = attrs.get("nics") or ()
    if isinstance(nics, str) or not isinstance(nics, Sequence):
        raise NetworkError(ERR_BAD_PARAMS, f"{name}: nics must be a list")
    text = attrs.get("options") or ""
    if not isinstance(text, str):
        raise NetworkError(ERR_BAD_BONDING, f"Bond {name}: options must be a string")
    try:
        # vdsm lets an unknown mode NAME escape as KeyError (-32603); we answer 25 like any
        # other bad option.
        options = canonical_bond_options(text)
    except ValueError as err:
        raise NetworkError(ERR_BAD_BONDING, f"Bond {name}: bad options {text!r}: {err}") from None
    hwaddr = _text(attrs.get("hwaddr"))
    return Bond(
        name=name,
        nics=tuple(sorted(str(nic) for nic in nics)),
        options=options,
        hwaddr=hwaddr.lower() if hwaddr else None,
        switch=str(attrs.get("switch") or "legacy"),
    )


MAX_CONNECTIVITY_TIMEOUT = 3600
"""Ours (vdsm has no bound): a setup holds the host's one setup slot while it waits."""


def _connectivity_timeout(value: object) -> int:
    """vdsm's ``int(value)`` seconds (so 0.1 is 0), in 0..MAX_CONNECTIVITY_TIMEOUT; 21 for
    anything else, including "inf", NaN and 1e400 (which JSON parsing makes infinite)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if not 0 <= seconds <= MAX_CONNECTIVITY_TIMEOUT:  # NaN fails both
        raise NetworkError(
            ERR_BAD_PARAMS,
            f"Bad connectivityTimeout: {value!r}: seconds in 0..{MAX_CONNECTIVITY_TIMEOUT}",
        )
    return int(seconds)


def canonical_options(options: Mapping[str, Any]) -> Options:
    """``setupNetworks`` options, plus our ``fullState`` extension."""
    return Options(
        connectivity_check=tobool(options.get("connectivityCheck", True)),
        connectivity_timeout=_connectivity_timeout(options.get("connectivityTimeout", 4)),
        commit_on_success=tobool(options.get("commitOnSuccess", False)),
        full_state=tobool(options.get("fullState", False)),
        in_rollback=tobool(options.get("_inRollback", False)),
    )


def blocking_dhcp(networks: Mapping[str, Any]) -> list[str]:
    """The networks whose ``blockingdhcp`` (vdsm's ``tobool``) asks the call to wait for a lease."""
    return [name for name, attrs in networks.items()
            if isinstance(attrs, Mapping) and tobool(attrs.get("blockingdhcp"))]


def canonicalize(
    networks: Mapping[str, Any],
    bondings: Mapping[str, Any],
    options: Mapping[str, Any],
    running: RunningConfig,
    observed: KernelState,
    host_nameservers: Sequence[str] = (),
) -> Request:
    """The whole request, in vdsm's order: the default route, then each network, then the bonds
    that networks use but the request does not name, then the bonds. Before anything, the
    request's size limits (ours, ``limits``)."""
    check_request_size(networks=networks, bondings=bondings, options=options)
    net_attrs = {
        name: _mapping(attrs, f"attributes of network {name}") for name, attrs in networks.items()
    }
    bond_attrs = {
        name: _mapping(attrs, f"attributes of bond {name}", ERR_BAD_BONDING)
        for name, attrs in bondings.items()
    }
    claims = _default_route_claims(net_attrs)
    nets, conflicts = _networks(net_attrs, host_nameservers)
    current = running.default_route_network()
    if claims and current is not None and current != claims[0] and current not in nets:
        # The role moves: the old holder is re-applied without it (and without its DNS).
        nets[current] = replace(running.networks[current], default_route=False, nameservers=())
    bonds = _external_bonds(nets, bondings, running, observed)
    for name, attrs in bond_attrs.items():
        bonds[name] = None if _is_removed(attrs) else canonical_bond(name, attrs)
    return Request(
        networks=nets,
        bondings=bonds,
        options=canonical_options(_mapping(options, "options")),
        remove_conflicts=frozenset(conflicts),
    )


def _default_route_claims(net_attrs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The networks that ask for the default route; more than one is refused."""
    claims = [
        name
        for name, attrs in net_attrs.items()
        if not _is_removed(attrs) and _claims_default_route(name, attrs)
    ]
    if len(claims) > 1:
        raise NetworkError(ERR_BAD_PARAMS, "Only a single default route network is allowed.")
    return claims


def _networks(
    net_attrs: Mapping[str, Mapping[str, Any]], host_nameservers: Sequence[str]
) -> tuple[dict[str, Network | None], set[str]]:
    """Each network, None when removed; and the removals that also carry other attributes."""
    nets: dict[str, Network | None] = {}
    conflicts: set[str] = set()
    for name, attrs in net_attrs.items():
        if _is_removed(attrs):
            nets[name] = None
            if set(attrs) - {"remove", "custom"}:
                conflicts.add(name)
        else:
            nets[name] = canonical_network(name, attrs, host_nameservers)
    return nets, conflicts


def _external_bonds(
    nets: Mapping[str, Network | None],
    bondings: Mapping[str, Any],
    running: RunningConfig,
    observed: KernelState,
) -> dict[str, Bond | None]:
    """Bonds that a network uses but neither the request nor the running config names: taken as
    the kernel has them (ports, options), so the network can sit on a bond made by others."""
    bonds: dict[str, Bond | None] = {}
    for net in nets.values():
        external = net.bonding if net is not None else None
        if external is None or external in bondings or external in running.bonds:
            continue
        link = observed.links.get(external)
        if link is not None and link.kind == "bond":
            bonds[external] = Bond(
                name=external,
                nics=tuple(observed.ports_of(external)),
                options=link.bond_options or (("mode", "0"),),
                switch=net.switch if net is not None else "legacy",
            )
    return bonds
