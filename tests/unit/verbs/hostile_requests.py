"""The hostile setupNetworks inputs of issue 12 and their expected answers: one table to extend.

Each ``Hostile`` is one request with the vdsm code it must get. ``test_verbs_hostile`` sends it as
a raw JSON-RPC body through the real Dispatcher and HostApi over the simulated kernel, and checks
the code, that the host is exactly as before (every observed link, address, route, rule and tag,
no kernel write, the running config, the resolver file), that nothing logged a traceback and
that the agent still answers. To add a case, add a row; ``host`` names a starting host from
``HOSTS`` and ``hook`` is the body of a before_network_setup hook.

A string value ``"@raw:TEXT"`` is put into the JSON body as TEXT itself, for numbers Python
cannot write (``1e400``, which JSON parsing makes infinite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.model.errors import (
    ERR_BAD_ADDR,
    ERR_BAD_BONDING,
    ERR_BAD_BRIDGE,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    ERR_HOOK,
)
from vdsm_net.model.kernel import Address, Route

NICS = ("eth0", "eth1", "eth2", "eth3")
INVALID_REQUEST = -32600  # JSON-RPC's: a body that is not strict JSON never reaches a verb
NOCHK = {"connectivityCheck": "false"}
MGMT = {"nic": "eth0", "ipaddr": "192.0.2.10", "prefix": "24", "gateway": "192.0.2.1",
        "defaultRoute": True}


def _foreign_host(kernel: MemoryKernel) -> None:
    """Links someone else made: a bridge with a port, an address and a route; a dummy; a VLAN;
    a bridge with a bond's name."""
    kernel.add_foreign_link("br0", kind="bridge")
    kernel.add_foreign_link("vnet0", master="br0")
    kernel.add_address(Address("br0", "198.51.100.1/24"))
    kernel.add_route(Route("203.0.113.0/24", "br0", "198.51.100.7"))
    kernel.add_foreign_link("dummy0")
    kernel.add_foreign_link("eth1.10", kind="vlan")
    kernel.add_foreign_link("bond9", kind="bridge")


HOSTS: dict[str, Callable[[MemoryKernel], None]] = {
    "plain": lambda _kernel: None,
    "foreign": _foreign_host,
}


@dataclass(frozen=True)
class Hostile:
    id: str
    code: int
    networks: dict[str, Any]
    bondings: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=lambda: dict(NOCHK))
    host: str = "plain"
    hook: str = ""
    row: str = ""  # where issue 12 lists it


def _mgmt(**changes: Any) -> dict[str, Any]:
    return {"ovirtmgmt": {**MGMT, **changes}}


def _bridge(name: str) -> dict[str, Any]:
    return {name: {"nic": "eth1"}}


def _ns(*servers: str) -> dict[str, Any]:
    return _mgmt(nameservers=list(servers))


def _static(ipaddr: str, prefix: str = "24", **more: Any) -> dict[str, Any]:
    return {"n": {"nic": "eth1", "ipaddr": ipaddr, "prefix": prefix, **more}}


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


CASES: tuple[Hostile, ...] = (
    # row 1: nameserver injection into the line-based resolver file
    Hostile("ns-newline-injection", ERR_BAD_ADDR,
            _ns("192.0.2.53%\nsearch attacker.example\noptions rotate"), row="1"),
    Hostile("ns-ipv4-with-zone", ERR_BAD_ADDR, _ns("192.0.2.53%eth0"), row="1"),
    Hostile("ns-ipv4-empty-zone", ERR_BAD_ADDR, _ns("192.0.2.53%"), row="1"),
    Hostile("ns-ipv6-global-with-zone", ERR_BAD_ADDR, _ns("2001:db8::53%eth0"), row="1"),
    Hostile("ns-ipv6-ll-zone-newline", ERR_BAD_ADDR, _ns("fe80::1%eth0\nsearch x"), row="1"),
    Hostile("ns-ipv6-ll-zone-slash", ERR_BAD_ADDR, _ns("fe80::1%a/b"), row="1"),
    Hostile("ns-two-in-one", ERR_BAD_ADDR, _ns("192.0.2.53 192.0.2.54"), row="1"),
    Hostile("ns-multicast", ERR_BAD_ADDR, _ns("224.0.0.251"), row="1"),
    Hostile("ns-too-many", ERR_BAD_PARAMS, _ns(*(f"192.0.2.{i}" for i in range(1, 40))),
            row="1"),
    # row 3: lo and other existing links that are not ours
    Hostile("lo-bridged", ERR_BAD_BRIDGE, _bridge("lo"), row="3"),
    Hostile("foreign-dummy-name", ERR_BAD_BRIDGE, _bridge("dummy0"), host="foreign", row="3"),
    # row 4: the kernel expands %d into a free number
    *(Hostile(f"percent-{name}", ERR_BAD_BRIDGE, _bridge(name), row="4")
      for name in ("a%d", "eth%d", "br%d", "%s")),
    # row 5: bytes the kernel cannot hold, or that vdsm refuses
    *(Hostile(f"bad-bytes-{i}", ERR_BAD_BRIDGE, _bridge(name), row="5")
      for i, name in enumerate(("a\x00b", "a\nb", "a\x7fb", "n\u00e9t", "a/b", "..", "x" * 16,
                                "a:b", "-a", "a\u00a0b", ""))),
    # row 6: a link someone else has is never taken over
    Hostile("takeover-foreign-bridge", ERR_BAD_BRIDGE, _bridge("br0"), host="foreign", row="6"),
    Hostile("takeover-foreign-bridge-ip", ERR_BAD_BRIDGE,
            {"br0": {"nic": "eth2", "ipaddr": "198.51.100.1", "prefix": "24"}}, host="foreign",
            row="6"),
    Hostile("takeover-foreign-vlan", ERR_BAD_VLAN,
            {"v": {"nic": "eth1", "vlan": "10", "bridged": "false"}}, host="foreign", row="6"),
    Hostile("takeover-foreign-link-as-bond", ERR_BAD_BONDING, {},
            {"bond9": {"nics": ["eth2"]}}, host="foreign", row="6"),
    Hostile("bridge-named-like-a-bond", ERR_BAD_BRIDGE, {"bond0": {"nic": "eth1"}},
            {"bond0": {"nics": ["eth2"]}}, row="6"),
    # row 7: names the ownership tag cannot carry
    Hostile("tag-separator-bridged", ERR_BAD_BRIDGE, _bridge("x,net=mgmt"), row="7"),
    Hostile("tag-separator-bridgeless", ERR_BAD_BRIDGE,
            {"y,bond=bond0": {"nic": "eth1", "bridged": "false"}}, row="7"),
    Hostile("tag-equals-bridgeless", ERR_BAD_BRIDGE,
            {"a=b": {"nic": "eth1", "bridged": "false"}}, row="7"),
    Hostile("tag-control-char-bridgeless", ERR_BAD_BRIDGE,
            {"a\x00b": {"nic": "eth1", "bridged": "false"}}, row="7"),
    Hostile("tag-too-long-bridgeless", ERR_BAD_BRIDGE,
            {"n" * 300: {"nic": "eth1", "bridged": "false"}}, row="7"),
    # row 12: a before-hook leaves a detached process holding its stderr
    Hostile("hook-detached-child", ERR_HOOK, _bridge("net"),
            hook="#!/bin/sh\nsetsid sleep 40 &\n", row="12"),
    Hostile("hook-double-fork", ERR_HOOK, _bridge("net"),
            hook="#!/bin/sh\n( setsid sleep 40 & )\nexit 0\n", row="12"),
    # row 14: connectivityTimeout that no integer holds, or far too long
    *(Hostile(f"timeout-{i}", ERR_BAD_PARAMS, _bridge("net"),
              options={"connectivityCheck": "true", "connectivityTimeout": value}, row="14")
      for i, value in enumerate(("inf", "-inf", "nan", 1e10, "@raw:1" + "0" * 400, 3601, -1,
                                 "4 s", [4], True))),
    # ... and numbers JSON parsing would make infinite: the transport refuses the body first
    # (strict JSON); canonicalization refuses them too where they come from elsewhere (hooks)
    *(Hostile(f"timeout-json-{i}", INVALID_REQUEST, _bridge("net"),
              options={"connectivityCheck": "true", "connectivityTimeout": value}, row="14")
      for i, value in enumerate(("@raw:1e400", "@raw:-1e400"))),
    # also seen: removing a name that is a link but not a network
    Hostile("remove-a-nic-name", ERR_BAD_BRIDGE, {"eth2": {"remove": "true"}}, row="also"),
    Hostile("remove-a-foreign-bridge", ERR_BAD_BRIDGE, {"br0": {"remove": "true"}},
            host="foreign", row="also"),
    Hostile("remove-lo", ERR_BAD_BRIDGE, {"lo": {"remove": "true"}}, row="also"),
    # also seen: bootproto outside vdsm's values
    *(Hostile(f"bootproto-{i}", ERR_BAD_PARAMS, {"n": {"nic": "eth1", "bootproto": value}},
              row="also")
      for i, value in enumerate(("garbage;rm -rf /", "static", "DHCP", "dhcp\n"))),
    # also seen: a prefix 0 off the default route network routes everything through it
    Hostile("prefix-0", ERR_BAD_ADDR, _static("192.0.2.10", "0"), row="also"),
    Hostile("netmask-0", ERR_BAD_ADDR,
            {"n": {"nic": "eth1", "ipaddr": "192.0.2.10", "netmask": "0.0.0.0"}}, row="also"),
    Hostile("ipv6-prefix-0", ERR_BAD_ADDR, {"n": {"nic": "eth1", "ipv6addr": "2001:db8::1/0"}},
            row="also"),
    # also seen: multicast, loopback, unspecified and broadcast addresses and gateways
    *(Hostile(f"special-v4-{addr}", ERR_BAD_ADDR, _static(addr, prefix), row="also")
      for addr, prefix in (("224.0.0.1", "24"), ("127.0.0.2", "8"), ("0.0.0.0", "24"),
                           ("255.255.255.255", "32"), ("192.0.2.255", "24"))),
    *(Hostile(f"special-v4-gw-{gw}", ERR_BAD_ADDR, _static("192.0.2.10", gateway=gw), row="also")
      for gw in ("224.0.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255")),
    *(Hostile(f"special-v6-{addr}", ERR_BAD_ADDR, {"n": {"nic": "eth1", "ipv6addr": addr}},
              row="also")
      for addr in ("ff02::1/64", "::1/128", "::/64")),
    Hostile("special-v6-gw", ERR_BAD_ADDR,
            {"n": {"nic": "eth1", "ipv6addr": "2001:db8::1/64", "ipv6gateway": "ff02::2"}},
            row="also"),
    # also seen: sizes
    Hostile("custom-4mib-value", ERR_BAD_PARAMS,
            {"n": {"nic": "eth1", "custom": {"k": "v" * (4 << 20)}}}, row="also"),
    Hostile("custom-too-many-keys", ERR_BAD_PARAMS,
            {"n": {"nic": "eth1", "custom": {f"k{i}": "v" for i in range(65)}}}, row="also"),
    Hostile("deep-hostqos", ERR_BAD_PARAMS, {"n": {"nic": "eth1", "hostQos": _deep(492)}},
            row="also"),
    Hostile("deep-custom", ERR_BAD_PARAMS, {"n": {"nic": "eth1", "custom": _deep(20)}},
            row="also"),
    Hostile("deep-options", ERR_BAD_PARAMS, _bridge("net"), options={**NOCHK, "x": _deep(9)},
            row="also"),
    Hostile("long-nic-name", ERR_BAD_PARAMS, {"n": {"nic": "e" * 100_000}}, row="also"),
)
