"""Open vSwitch names and tags: one OVS bridge per southbound NIC or bond.

vdsm names the bridge ``vdsmbr_`` plus 8 random characters; ours are derived from the southbound
name, so a restarted agent (which remembers nothing) finds the same bridge.
"""

from __future__ import annotations

import hashlib

from vdsm_net.model.kernel import TAG_PREFIX

BRIDGE_PREFIX = "vdsmbr_"
OVSDB_TAG_KEY = "vdsm-net"
"""The ``external_ids`` key of an OVSDB row that holds the ownership tag (ifalias for links)."""


def ovs_bridge_name(southbound: str) -> str:
    """``vdsmbr_`` + 8 hex characters of the southbound name's SHA-256: 15 characters, a valid
    link name, the same on every start."""
    return BRIDGE_PREFIX + hashlib.sha256(southbound.encode()).hexdigest()[:8]


def ovs_bridge_tag(southbound: str) -> str:
    return f"{TAG_PREFIX}ovsbr={southbound}"
