"""A link the agent does not own is never taken over (issue 12 row 6), checked before any write.

Pure, called by ``validate`` in §4.3 step 4 with the request, the running config, the desired
config and the observed kernel. A bridge or VLAN that a requested network would create must not
be a link that exists without our tag (a bridge someone else made, with its ports and addresses;
``lo``, which observation keeps only as a hidden name): vdsm would configure it as its own, and
delete its addresses and routes. A requested bond must not be an existing unowned link of another
kind (the planner would delete it to create the bond). What the running config has is ours even
if someone cleared its tag. Unowned *bonds* are still taken over as vdsm does (its external-bond
rule); NICs are configured, never taken, and the planner refuses a NIC of another kind (24).
"""

from __future__ import annotations

from vdsm_net.model.desired import Request, RunningConfig
from vdsm_net.model.errors import ERR_BAD_BONDING, ERR_BAD_BRIDGE, ERR_BAD_VLAN, NetworkError
from vdsm_net.model.kernel import TAG_PREFIX, KernelState, Link


def _running_links(running: RunningConfig) -> frozenset[str]:
    out: set[str] = set(running.bonds)
    for name, net in running.networks.items():
        out.update(n for n in (name if net.bridged else None, net.vlan_device) if n)
    return frozenset(out)


def _foreign(link: Link | None) -> bool:
    return link is not None and link.kind != "nic" and not (link.tag or "").startswith(TAG_PREFIX)


def check_takeover(
    request: Request, running: RunningConfig, desired: RunningConfig, observed: KernelState
) -> None:
    ours = _running_links(running)
    live = [(name, net) for name, net in request.networks.items() if net is not None]
    for name, net in live:
        if net.bridged and name in desired.bonds:
            raise NetworkError(ERR_BAD_BRIDGE, f"Network {name}: a bond has that name")
        for device, code in ((name if net.bridged else None, ERR_BAD_BRIDGE),
                             (net.vlan_device, ERR_BAD_VLAN)):
            if device is None or device in ours:
                continue
            if device in observed.hidden or _foreign(observed.links.get(device)):
                raise NetworkError(
                    code, f"Network {name}: the link {device} exists and is not owned by vdsm-net"
                )
    for name, bond in request.bondings.items():
        link = observed.links.get(name)
        if bond is not None and name not in ours and _foreign(link) and (
            link is not None and link.kind != "bond"
        ):
            raise NetworkError(
                ERR_BAD_BONDING,
                f"Bond {name}: the link {name} exists, is not a bond and is not owned by vdsm-net",
            )
