"""OVSDB over its JSON-RPC socket with Open vSwitch's own Python IDL (the ``ovs`` package).

``Ovsdb(remote)`` keeps an IDL replica of the tables the agent uses (Open_vSwitch, Bridge, Port,
Interface); ``view()`` reads it as plain data, ``transact(build)`` runs one transaction and waits
until ovs-vswitchd has applied it (``next_cfg``/``cur_cfg``), so the kernel links it makes exist
when the call returns. Ownership tags live in ``external_ids`` (key ``model.ovs.OVSDB_TAG_KEY``)
of the Bridge and Port rows.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from vdsm_net.backends.ovs import fastjson
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ovs import OVSDB_TAG_KEY

fastjson.install()

DB = "Open_vSwitch"
PER_OP = 1.0
"""Seconds ovs-vswitchd may take per op of a transaction beyond the base timeout (it made about
6 internal ports a second in the ptrace-based guest)."""
COLUMNS: dict[str, list[str]] = {
    "Open_vSwitch": ["bridges", "next_cfg", "cur_cfg"],
    "Bridge": ["name", "ports", "external_ids"],
    "Port": ["name", "interfaces", "tag", "external_ids"],
    "Interface": ["name", "type", "mtu_request", "mac", "external_ids"],
}


@dataclass(frozen=True)
class OvsPort:
    name: str
    bridge: str
    internal: bool
    tag: int | None
    owner: str | None  # the ownership tag in external_ids


@dataclass(frozen=True)
class OvsView:
    bridges: dict[str, str | None]  # bridge -> its ownership tag
    ports: dict[str, OvsPort]  # every port but a bridge's own local port


def _optional(value: Any) -> Any:
    """An optional OVSDB column reads as a list of zero or one values."""
    return value[0] if value else None


class Ovsdb:
    """One IDL connection; every method is safe to call from any thread (one lock)."""

    def __init__(self, remote: str, timeout: float = 30.0) -> None:
        self.remote = remote
        self.timeout = timeout
        helper = ovs.db.idl.SchemaHelper(None, self._schema())
        for table, columns in COLUMNS.items():
            helper.register_columns(table, columns)
        self._idl = ovs.db.idl.Idl(remote, helper)
        self._lock = threading.Lock()
        self._wait(lambda: self._idl.has_ever_connected(), "connect")
        if not self._idl.tables["Open_vSwitch"].rows:
            self.transact(lambda txn, _idl: txn.insert(self._idl.tables["Open_vSwitch"]), False)

    def _schema(self) -> Any:
        error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(self.remote),
                                                     int(self.timeout * 1000))
        if error:
            raise KernelError("ovsdb", f"cannot connect to {self.remote}: error {error}")
        rpc = ovs.jsonrpc.Connection(stream)
        try:
            request = ovs.jsonrpc.Message.create_request("get_schema", [DB])
            error, reply = rpc.transact_block(request)
        finally:
            rpc.close()
        if error or reply is None or reply.error:
            raise KernelError("ovsdb", f"{self.remote}: no {DB} schema")
        return reply.result

    def _wait(self, done: Callable[[], bool], what: str, extra: float = 0.0) -> None:
        deadline = time.monotonic() + self.timeout + extra
        self._idl.run()
        while not done():
            if time.monotonic() > deadline:
                raise KernelError("ovsdb", f"{self.remote}: {what} timed out")
            poller = ovs.poller.Poller()
            self._idl.wait(poller)
            poller.timer_wait(100)
            poller.block()
            self._idl.run()

    def close(self) -> None:
        with self._lock:
            self._idl.close()

    def wait_change(self, timeout_ms: int) -> bool:
        """Wait up to ``timeout_ms`` for an update of the replica; whether one came."""
        with self._lock:
            seq = self._idl.change_seqno
            self._idl.run()
            if self._idl.change_seqno == seq:
                poller = ovs.poller.Poller()
                self._idl.wait(poller)
                poller.timer_wait(timeout_ms)
                poller.block()
                self._idl.run()
            return bool(self._idl.change_seqno != seq)

    def root(self) -> Any:
        return next(iter(self._idl.tables["Open_vSwitch"].rows.values()))

    def rows(self, table: str) -> list[Any]:
        return list(self._idl.tables[table].rows.values())

    def insert(self, txn: Any, table: str) -> Any:
        return txn.insert(self._idl.tables[table])

    def view(self) -> OvsView:
        """The bridges and ports as they are now in the database."""
        with self._lock:
            self._idl.run()
            bridges: dict[str, str | None] = {}
            ports: dict[str, OvsPort] = {}
            for br in self.rows("Bridge"):
                bridges[br.name] = br.external_ids.get(OVSDB_TAG_KEY)
                for port in br.ports:
                    if port.name == br.name:
                        continue
                    internal = any(i.type == "internal" for i in port.interfaces)
                    ports[port.name] = OvsPort(port.name, br.name, internal, _optional(port.tag),
                                               port.external_ids.get(OVSDB_TAG_KEY))
            return OvsView(bridges, ports)

    def transact(
        self, build: Callable[[Any, Any], object], wait_vswitchd: bool = True, size: int = 1
    ) -> str:
        """Build one transaction (``build(txn, self)``), commit it, and wait until ovs-vswitchd
        has applied it; raise ``KernelError`` when the database refuses it. ovs-vswitchd gets
        ``timeout`` plus ``PER_OP`` seconds per op (``size``) to apply it. Returns where the
        time went, for the debug log."""
        with self._lock:
            times = [time.monotonic()]
            self._idl.run()
            txn = ovs.db.idl.Transaction(self._idl)
            build(txn, self)
            if wait_vswitchd:
                self.root().increment("next_cfg")
            times.append(time.monotonic())
            status = txn.commit_block()
            times.append(time.monotonic())
            if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
                raise KernelError("ovsdb", f"transaction {status}: {txn.get_error() or ''}")
            if wait_vswitchd and status == ovs.db.idl.Transaction.SUCCESS:
                target = txn.get_increment_new_value()
                self._wait(lambda: self.root().cur_cfg >= target, "ovs-vswitchd apply",
                           PER_OP * size)
            times.append(time.monotonic())
        built, committed, applied = (b - a for a, b in itertools.pairwise(times))
        return (f"built in {built:.3f} s, committed in {committed:.3f} s, applied by "
                f"ovs-vswitchd in {applied:.3f} s")
