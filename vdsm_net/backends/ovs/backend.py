"""The real kernel with Open vSwitch: netlink for links, addresses and routes, OVSDB for the OVS
bridges and ports (``ovsdb.Ovsdb``).

``observe`` overlays the OVSDB picture on the netlink dump: a bridge's local link becomes an
``ovs-bridge``, an internal port an ``ovs-port`` (``master`` its bridge, ``vlan_id`` its tag), a
system port (a NIC or bond) gets its bridge as ``master`` instead of ``ovs-system``; the tags of
bridges and internal ports are the rows' ``external_ids``; the datapath link ``ovs-system`` is
left out. ``apply_batch`` sends each run of consecutive OVS ops as one OVSDB transaction and the
other ops to netlink, in order; a port deleted and created again gets two transactions (in one,
ovs-vswitchd would keep the kernel interface and its addresses). New internal ports get their MTU
(``mtu_request``) in a second transaction right after the one that creates them: in the same
one, ovs-vswitchd took twice as long to make them (100 ports: 12.2 s against 5.8 s; the MTUs
alone, afterwards, 0.6 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.ovs import txn as t
from vdsm_net.backends.ovs.ovsdb import Ovsdb, OvsView
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import KernelState, Link

log = logging.getLogger(__name__)

DATAPATH = "ovs-system"
SETTLE_BASE = 10.0
SETTLE_PER_OP = 0.2


def overlay(links: dict[str, Link], view: OvsView) -> dict[str, Link]:
    """The netlink links with the OVS facts of ``view`` (see the module docstring)."""
    out = {n: lk for n, lk in links.items() if n != DATAPATH}
    for name, owner in view.bridges.items():
        seen = out.get(name) or Link(name, "ovs-bridge")
        out[name] = seen.with_(kind="ovs-bridge", master=None, tag=owner)
    for name, port in view.ports.items():
        found = out.get(name)
        if port.internal:
            base = found or Link(name, "ovs-port")
            out[name] = base.with_(kind="ovs-port", master=port.bridge, vlan_id=port.tag,
                                   tag=port.owner)
        elif found is not None:
            out[name] = found.with_(master=port.bridge)
    return out


class OvsBackend:
    """``Backend`` on the running kernel and its Open vSwitch (``remote``: OVSDB's socket)."""

    def __init__(self, remote: str, netns: str | None = None) -> None:
        self.netlink = NetlinkBackend(netns)
        try:
            self.ovsdb = Ovsdb(remote)
        except BaseException:
            self.netlink.close()
            raise
        self.ovsdb_writes = 0

    @property
    def writes(self) -> int:
        return self.netlink.writes + self.ovsdb_writes

    def observe(self, stats: bool = True) -> KernelState:
        view = self.ovsdb.view()
        state = self.netlink.observe(stats)
        return KernelState(links=overlay(state.links, view), addresses=state.addresses,
                           routes=state.routes, rules=state.rules)

    def nic_facts(self, name: str) -> NicFacts:
        return self.netlink.nic_facts(name)

    def close(self) -> None:
        self.ovsdb.close()
        self.netlink.close()

    def apply(self, op: o.Op) -> None:
        self.apply_batch((op,))

    def apply_batch(self, ops: Sequence[o.Op]) -> None:
        view = self.ovsdb.view()
        run: list[o.Op] = []
        kind = ""
        deleted: set[str] = set()
        for op in (part for whole in ops for part in t.split(whole, view)):
            here = "ovs" if t.is_ovs_op(op, view) else "netlink"
            if run and (here != kind or t.recreates(op, deleted)):
                self._send(kind, run)
                view, run, deleted = self.ovsdb.view(), [], set()
            kind = here
            run.append(op)
            if here == "ovs":
                view = t.project(view, op)
                deleted |= set(op.links) if isinstance(op, o.DeleteLinks) else set()
        if run:
            self._send(kind, run)

    def _send(self, kind: str, ops: list[o.Op]) -> None:
        if kind == "netlink":
            self.netlink.apply_batch(ops)
            return
        mtus = t.port_mtus(ops)
        self._transact(ops, new_port_mtu=False)
        if mtus:  # see the module docstring: the new ports' MTUs in a transaction of their own
            self._transact(mtus, new_port_mtu=True)
        self.ovsdb_writes += len(ops)
        applied = time.monotonic()
        self._settle(ops)
        log.debug("kernel settled %.3f s after the OVSDB transactions", time.monotonic() - applied)

    def _transact(self, ops: list[o.Op], new_port_mtu: bool) -> None:
        rows: dict[str, Any] = {}

        def build(txn: Any, db: Ovsdb) -> None:
            for op in ops:
                t.add_to_transaction(txn, db, op, rows, new_port_mtu)

        try:
            timing = self.ovsdb.transact(build, size=len(ops))
        except KernelError as exc:
            raise KernelError(ops[0].kind, f"{ops[0].describe()} (OVSDB): {exc}") from None
        finally:
            self.netlink.forget_links()  # ovs-vswitchd made or deleted kernel links
        log.debug("OVSDB transaction of %d ops: %s", len(ops), timing)

    def _settle(self, ops: list[o.Op]) -> None:
        """Wait until the kernel shows what ovs-vswitchd was asked for: the links it makes with
        their MTUs, none of those it deletes. Its ``cur_cfg`` can come a moment before the MTU
        of a new internal port is set on a loaded machine. On a timeout the engine's verify
        reports what is missing."""
        want, gone = t.kernel_effects(ops)
        if not want and not gone:
            return
        deadline = time.monotonic() + SETTLE_BASE + SETTLE_PER_OP * len(ops)
        while time.monotonic() < deadline:
            links = self.netlink.observe(stats=False).links
            if all(n not in links for n in gone) and all(
                n in links and links[n].mtu == mtu for n, mtu in want.items()
            ):
                return
            time.sleep(0.05)
