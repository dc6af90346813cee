"""setupNetworks requests as ovirt-engine sends them (vdsm-wire §3.2: strings for vlan, bridged,
stp and connectivityCheck; an int mtu), and the call that sends one."""

from __future__ import annotations

from typing import Any

from rpc.client import Client

NOCHK = {"connectivityCheck": "false"}
DONE = {"code": 0, "message": "Done"}

BOND = "bond0"
VLAN = 100
NET = "red"
VLAN_DEV = f"{BOND}.{VLAN}"
ADDR, PREFIX, GATEWAY = "192.0.2.10", 24, "192.0.2.1"


def bond(
    nics: tuple[str, ...] = ("dummy_0", "dummy_1"),
    options: str = "mode=4 miimon=150 lacp_rate=fast",
) -> dict[str, Any]:
    return {BOND: {"nics": list(nics), "options": options, "switch": "legacy"}}


def vlan_net(mtu: int = 1500, **extra: Any) -> dict[str, Any]:
    """A bridged VLAN network on the bond with a static IPv4 and the default route."""
    attrs: dict[str, Any] = {
        "bonding": BOND, "vlan": str(VLAN), "bridged": "true", "stp": "no", "mtu": mtu,
        "ipaddr": ADDR, "prefix": str(PREFIX), "gateway": GATEWAY, "defaultRoute": True,
        "switch": "legacy",
    }
    attrs.update(extra)
    return {NET: attrs}


def check_opts(timeout: int) -> dict[str, Any]:
    """A connectivity check the engine would ask for."""
    return {"connectivityCheck": "true", "connectivityTimeout": timeout}


def setup(
    cli: Client,
    networks: dict[str, Any],
    bondings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Any:
    """Host.setupNetworks; NOCHK unless options are given."""
    params = {"networks": networks, "bondings": bondings or {},
              "options": NOCHK if options is None else options}
    return cli.call("Host.setupNetworks", params, timeout=timeout)


VDSM_NETWORK_KEYS = ("networks", "bridges", "nics", "vlans", "bondings", "nameservers",
                     "supportsIPv6", "netConfigDirty")


def network_view(caps: dict[str, Any]) -> dict[str, Any]:
    """vdsm's network caps keys only, for before/after equality; extensions that carry a
    clock (``driftReport.checkedAt``) are left out."""
    return {key: caps.get(key) for key in VDSM_NETWORK_KEYS}
