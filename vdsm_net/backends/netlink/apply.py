"""Plan ops -> rtnetlink requests, sent in batches: many requests in one sendmsg, each answered
only when refused (see ``RtnlSocket.batch``).

A batch is cut where an op needs what only the kernel can tell: a sysfs step (bond options), the
current state of a link (bridge options), the ifindex of a link created earlier in the batch, or
a bulk delete. The kernel runs every request of a batch even after a refusal: the op of the first
refused request is the error, the ops before it are applied, and the whole batch counts as
attempted (the engine's revert covers it). An op whose first request succeeded and a later one
failed (a create whose bond options are refused, an enslave after the port was downed) is undone
before the error is raised, so a single op still changes nothing when it fails.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vdsm_net.backends.netlink.bondopts import write_bond_options
from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl import encode as enc
from vdsm_net.backends.netlink.rtnl import tc
from vdsm_net.backends.netlink.rtnl.links import (
    Cached,
    Message,
    dump_request,
    link_bridge_options,
    link_cache,
)
from vdsm_net.model import bridgeopts
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError

FIRST_DELETE_GROUP = 0x7E000000  # link groups we borrow for bulk deletes


def dump_links(sock: c.RtnlSocket) -> list[Message]:
    """The messages of a link dump without the counters (the writer never needs them)."""
    return sock.get(dump_request(stats=False))


@dataclass
class _Pending:
    op: o.Op
    msgs: list[bytes]
    undo: list[bytes] = field(default_factory=list)


class BatchWriter:
    """Applies a sequence of ops on one socket. ``done`` counts the ops applied so far."""

    def __init__(self, sock: c.RtnlSocket, cache: dict[str, Cached], sysfs: Path) -> None:
        self.sock = sock
        self.cache = cache
        self.sysfs = sysfs
        self.pending: list[_Pending] = []
        self.done = 0

    # ---- the batch -------------------------------------------------------------------------

    def run(self, ops: Sequence[o.Op]) -> None:
        for op in ops:
            sync = _SYNC.get(type(op))
            if isinstance(op, o.CreateLink) and op.link.kind == "bond" and op.link.bond_options[1:]:
                sync = BatchWriter._create_bond  # its options go through sysfs, after the create
            if sync is not None:
                self.flush()
                sync(self, op)
                self.done += 1
                continue
            encode = _ENCODE.get(type(op))
            if encode is None:
                raise KernelError(op.kind, f"unsupported op {op.describe()}")
            encoded = encode(self, op)  # may flush (self.pending becomes a new list)
            self.pending.append(encoded)
        self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        owner: list[int] = []
        msgs: list[bytes] = []
        for i, p in enumerate(batch):
            owner += [i] * len(p.msgs)
            msgs += p.msgs
        failed = self.sock.batch(msgs)
        if not failed:
            self.done += len(batch)
            return
        first = min(failed)
        culprit = owner[first]
        self.done += culprit
        self._fail(batch[culprit], failed[first], first_ok=owner.index(culprit) not in failed)

    def _fail(self, p: _Pending, code: int, first_ok: bool) -> None:
        if code == errno.ENODEV:
            self.cache.clear()  # a link went away behind our back: look names up again
        if first_ok and p.undo:
            self.sock.batch(p.undo)
        raise KernelError(p.op.kind, f"{subject(p.op)}: {os.strerror(code)}")

    def _run_now(self, p: _Pending, then: Callable[[], None] | None = None) -> None:
        """Send one op's requests now; then run its non-netlink step (undone on failure)."""
        failed = self.sock.batch(p.msgs) if p.msgs else {}
        if failed:
            first = min(failed)
            self._fail(p, failed[first], first_ok=0 not in failed)
        if then is None:
            return
        try:
            then()
        except OSError as exc:
            if p.undo:
                self.sock.batch(p.undo)
            raise KernelError(p.op.kind, f"{subject(p.op)}: {exc.strerror or exc}") from exc

    # ---- names -----------------------------------------------------------------------------

    def lookup(self, op: o.Op, name: str) -> Cached:
        found = self.cache.get(name)
        if found is None:
            self.flush()  # it may be created by a request still pending
            self.cache.clear()
            self.cache.update(link_cache(dump_links(self.sock)))
            found = self.cache.get(name)
        if found is None:
            raise KernelError(op.kind, f"{subject(op)}: no such link {name}")
        return found

    # ---- ops -------------------------------------------------------------------------------

    def _create(self, op: o.CreateLink) -> _Pending:
        link = op.link
        if link.kind not in ("bond", "vlan", "bridge"):
            raise KernelError(op.kind, f"{link.name}: cannot create a link of kind {link.kind}")
        base = None
        if link.kind == "vlan":
            if link.vlan_base is None or link.vlan_id is None:
                raise KernelError(op.kind, f"{link.name}: a VLAN needs its base and id")
            base = self.lookup(op, link.vlan_base).index
        msgs = [enc.new_link(link, base)]
        if link.tag:
            msgs.append(enc.set_link(link.name, enc.alias(link.tag)))
        return _Pending(op, msgs, [enc.delete_link(link.name)])

    def _create_bond(self, op: o.CreateLink) -> None:
        link = op.link
        self._run_now(self._create(op),
                      lambda: write_bond_options(self.sysfs, link.name, link.bond_options))

    def _set_master(self, op: o.SetMaster) -> _Pending:
        if op.master is None:
            return _Pending(op, [enc.set_link(op.name, enc.master(0))])
        upper = self.lookup(op, op.master)
        if upper.kind != "bond":
            return _Pending(op, [enc.set_link(op.name, enc.master(upper.index))])
        # the kernel refuses an UP bond port: down it first, and up again if the enslave fails
        port = self.cache.get(op.name)
        was_up = port is None or port.up
        msgs = [enc.set_link(op.name, up=False), enc.set_link(op.name, enc.master(upper.index))]
        if port is not None:
            port.up = True  # the bonding driver opens the ports it takes
        return _Pending(op, msgs, [enc.set_link(op.name, up=True)] if was_up else [])

    def _set_up(self, op: o.SetUp) -> _Pending:
        known = self.cache.get(op.name)
        if known is not None:
            known.up = op.up
        return _Pending(op, [enc.set_link(op.name, up=op.up)])

    def _set_bridge(self, op: o.SetBridge) -> None:
        try:
            answer = self.sock.get(enc.get_link(op.name))
        except OSError as exc:
            raise KernelError(op.kind, f"{op.name}: {exc.strerror}") from exc
        _stp, current = link_bridge_options(*answer[0])
        wanted = dict(op.bridge_opts)
        reset = {k: bridgeopts.BRIDGE_DEFAULTS[k] for k, _ in current if k not in wanted}
        opts = tuple(sorted({**reset, **wanted}.items()))
        self._run_now(_Pending(op, [enc.change_bridge(op.name, op.stp, opts)]))

    def _set_bond_options(self, op: o.SetBondOptions) -> None:
        self._run_now(_Pending(op, []),
                      lambda: write_bond_options(self.sysfs, op.name, op.options))

    def _delete(self, op: o.DeleteLinks) -> None:
        """Bulk delete: move the links to a free link group, then delete the group (one RCU
        grace period for all, where one delete per link waits for one each)."""
        missing = [n for n in op.names if n not in self.cache]
        if missing:
            self.cache.clear()
            self.cache.update(link_cache(dump_links(self.sock)))
            missing = [n for n in op.names if n not in self.cache]
        if missing:
            raise KernelError(op.kind, f"{' '.join(op.names)}: no such link {' '.join(missing)}")
        used = {link.group for link in self.cache.values()}
        group = FIRST_DELETE_GROUP
        while group in used:
            group += 1
        failed = self.sock.batch([enc.set_link(n, enc.group(group)) for n in op.names])
        if not failed:
            failed = {len(op.names): code
                      for code in self.sock.batch([enc.delete_group(group)]).values()}
            if not failed:
                for name in op.names:
                    del self.cache[name]
                return
        restore = [enc.set_link(n, enc.group(self.cache[n].group))
                   for i, n in enumerate(op.names) if i not in failed]
        self.sock.batch(restore)  # a link the kernel already took with a lower one: ENODEV
        self.cache.clear()
        raise KernelError(op.kind, f"{subject(op)}: {os.strerror(failed[min(failed)])}")

    def _address(self, op: o.AddressOp) -> _Pending:
        index = self.lookup(op, op.address.ifname).index
        add = isinstance(op, o.AddAddress)
        return _Pending(op, [enc.address(add, index, op.address.address)])

    def _tc(self, op: o.TcOp) -> _Pending:
        return _Pending(op, [tc.request(op, self.lookup(op, op.obj.dev).index)])

    def _route(self, op: o.RouteOp) -> _Pending:
        oif = self.lookup(op, op.route.oif).index
        return _Pending(op, [enc.route(isinstance(op, o.AddRoute), op.route, oif)])


def _on_link(build: Callable[[Any], bytes]) -> Callable[[BatchWriter, Any], _Pending]:
    def encode(_writer: BatchWriter, op: Any) -> _Pending:
        return _Pending(op, [enc.set_link(op.name, build(op))])

    return encode


_ENCODE: dict[type, Callable[[BatchWriter, Any], _Pending]] = {
    o.CreateLink: BatchWriter._create,
    o.SetMaster: BatchWriter._set_master,
    o.SetUp: BatchWriter._set_up,
    o.SetMtu: _on_link(lambda op: enc.mtu(op.mtu)),
    o.SetTag: _on_link(lambda op: enc.alias(op.tag)),
    o.SetMac: _on_link(lambda op: enc.mac(op.mac)),
    o.AddAddress: BatchWriter._address,
    o.DelAddress: BatchWriter._address,
    o.AddRoute: BatchWriter._route,
    o.DelRoute: BatchWriter._route,
    o.AddRule: lambda _w, op: _Pending(op, [enc.rule(True, op.rule)]),
    o.DelRule: lambda _w, op: _Pending(op, [enc.rule(False, op.rule)]),
    o.AddTc: BatchWriter._tc,
    o.ChangeTc: BatchWriter._tc,
    o.DelTc: BatchWriter._tc,
}


_SYNC: dict[type, Callable[[BatchWriter, Any], None]] = {
    o.SetBridge: BatchWriter._set_bridge,
    o.SetBondOptions: BatchWriter._set_bond_options,
    o.DeleteLinks: BatchWriter._delete,
}


def subject(op: o.Op) -> str:
    """The object an op acts on, as the error names it: 'eth1 -> bond0', '10.0.0.1/24 on br0'."""
    if isinstance(op, o.SetMaster):
        return f"{op.name} -> {op.master}" if op.master else f"{op.name} -> nomaster"
    if isinstance(op, o.CreateLink):
        return op.link.name
    if isinstance(op, o.DeleteLinks):
        return " ".join(op.names)
    if isinstance(op, o.AddressOp):
        return f"{op.address.address} on {op.address.ifname}"
    if isinstance(op, o.RouteOp):
        via = f" via {op.route.gateway}" if op.route.gateway else ""
        return f"{op.route.dst}{via} dev {op.route.oif} table {op.route.table}"
    if isinstance(op, o.RuleOp):
        r = op.rule
        return f"priority {r.priority} from {r.src or 'all'} to {r.dst or 'all'} table {r.table}"
    if isinstance(op, o.LinkOp):
        return op.name
    if isinstance(op, o.TcOp):
        return op.obj.describe()
    return op.describe()
