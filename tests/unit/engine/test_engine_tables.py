"""Source-routing tables: vdsm's adler32 id, made distinct when two networks collide."""

from __future__ import annotations

import zlib

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.render import source_table
from vdsm_net.model.kernel import SOURCE_RULE_PRIORITY


def test_colliding_names_get_distinct_tables_and_both_apply() -> None:
    assert zlib.adler32(b"net120") == zlib.adler32(b"net201")  # the collision this guards
    kernel = MemoryKernel(nics=["eth0", "eth1"])
    engine = Engine(kernel)
    nets = {
        "net120": {"nic": "eth0", "ipaddr": "192.0.2.2", "prefix": 24, "gateway": "192.0.2.1"},
        "net201": {"nic": "eth1", "ipaddr": "198.51.100.2", "prefix": 24,
                   "gateway": "198.51.100.1"},
    }
    engine.setup(nets, {}, {"connectivityCheck": False})
    state = kernel.observe()
    tables = {r.oif: r.table for r in state.routes if r.is_default}
    assert tables["net120"] == source_table("net120")  # the first in name order keeps vdsm's id
    assert tables["net201"] == source_table("net201") + 1
    rules = sorted(
        (r.table, r.src or "", r.dst or "") for r in state.rules
        if r.priority == SOURCE_RULE_PRIORITY
    )
    a, b = tables["net120"], tables["net201"]
    assert rules == sorted([
        (a, "192.0.2.0/24", ""), (a, "", "192.0.2.0/24"),
        (b, "198.51.100.0/24", ""), (b, "", "198.51.100.0/24"),
    ])
