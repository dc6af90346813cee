"""Plan ops as OVSDB changes: which ops are OVS's (``is_ovs_op``), how they change the view
while a run of them is built (``project``), and each op's rows in one transaction
(``add_to_transaction``).

OVS's ops: creating and deleting OVS bridges and internal ports, a link joining or leaving an OVS
bridge (a system port), and the MTU (``mtu_request``), MAC and tag (``external_ids``) of OVS
bridges and internal ports. Everything else (up/down, addresses, routes, a NIC's ifalias and MTU)
is netlink's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vdsm_net.backends.ovs.ovsdb import Ovsdb, OvsPort, OvsView
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ovs import OVSDB_TAG_KEY


def _ovs_object(view: OvsView, name: str) -> bool:
    port = view.ports.get(name)
    return name in view.bridges or (port is not None and port.internal)


def split(op: o.Op, view: OvsView) -> list[o.Op]:
    """A deletion of OVS and kernel links at once becomes one deletion of each."""
    if not isinstance(op, o.DeleteLinks):
        return [op]
    ovs_names = tuple(n for n in op.names if _ovs_object(view, n))
    rest = tuple(n for n in op.names if n not in ovs_names)
    if not ovs_names or not rest:
        return [op]
    return [o.DeleteLinks(ovs_names, op.reason), o.DeleteLinks(rest, op.reason)]


def kernel_effects(ops: list[o.Op]) -> tuple[dict[str, int], set[str]]:
    """What a transaction of ``ops`` makes ovs-vswitchd do to kernel links: the links it
    creates or sets the MTU of (name -> MTU), and those it deletes."""
    want: dict[str, int] = {}
    gone: set[str] = set()
    for op in ops:
        if isinstance(op, o.CreateLink):
            want[op.link.name] = op.link.mtu
            gone.discard(op.link.name)
        elif isinstance(op, o.SetMtu):
            want[op.name] = op.mtu
        elif isinstance(op, o.DeleteLinks):
            for name in op.names:
                want.pop(name, None)
                gone.add(name)
    return want, gone


def port_mtus(ops: list[o.Op]) -> list[o.Op]:
    """The MTUs of the internal ports ``ops`` create, as ops of their own (see ``backend``)."""
    return [o.SetMtu(op.link.name, op.link.mtu) for op in ops
            if isinstance(op, o.CreateLink) and op.link.kind == "ovs-port" and op.link.mtu]


def recreates(op: o.Op, deleted: set[str]) -> bool:
    """Whether ``op`` creates a link that the pending transaction deletes."""
    return isinstance(op, o.CreateLink) and op.link.name in deleted


def is_ovs_op(op: o.Op, view: OvsView) -> bool:
    if isinstance(op, o.CreateLink):
        return op.link.kind in ("ovs-bridge", "ovs-port")
    if isinstance(op, o.DeleteLinks):
        return all(_ovs_object(view, n) for n in op.names)
    if isinstance(op, o.SetMaster):
        return op.master in view.bridges if op.master else op.name in view.ports
    if isinstance(op, o.SetMtu | o.SetTag | o.SetMac):
        return _ovs_object(view, op.name)
    return False


def project(view: OvsView, op: o.Op) -> OvsView:
    """The view after ``op`` (an OVS op), for the next ops of the same transaction."""
    bridges, ports = dict(view.bridges), dict(view.ports)
    if isinstance(op, o.CreateLink):
        link = op.link
        if link.kind == "ovs-bridge":
            bridges[link.name] = link.tag
        else:
            ports[link.name] = OvsPort(link.name, link.master or "", True, link.vlan_id, link.tag)
    elif isinstance(op, o.DeleteLinks):
        for name in op.names:
            bridges.pop(name, None)
            ports.pop(name, None)
        ports = {n: p for n, p in ports.items() if p.bridge in bridges}
    elif isinstance(op, o.SetMaster):
        if op.master is None:
            ports.pop(op.name, None)
        else:
            ports[op.name] = OvsPort(op.name, op.master, False, None, None)
    elif isinstance(op, o.SetTag):
        if op.name in bridges:
            bridges[op.name] = op.tag
        else:
            ports[op.name] = replace(ports[op.name], owner=op.tag)
    return OvsView(bridges, ports)


class _Rows:
    """The rows of one transaction by name, the ones it inserts included."""

    def __init__(self, db: Ovsdb, cache: dict[str, Any]) -> None:
        self.db = db
        self.cache = cache

    def get(self, table: str, name: str, op: o.Op) -> Any:
        key = f"{table}:{name}"
        if key not in self.cache and f"{table}:*" not in self.cache:  # index the table once
            self.cache[f"{table}:*"] = True
            for row in self.db.rows(table):
                self.cache.setdefault(f"{table}:{row.name}", row)
        row = self.cache.get(key)
        if row is None:
            raise KernelError(op.kind, f"{name}: no {table} row")
        return row

    def new(self, txn: Any, table: str, name: str, **columns: Any) -> Any:
        row = self.db.insert(txn, table)
        row.name = name
        for column, value in columns.items():
            setattr(row, column, value)
        self.cache[f"{table}:{name}"] = row
        return row

    def port_of(self, name: str, op: o.Op) -> tuple[Any, Any]:
        """The Port row ``name`` and the Bridge row that holds it."""
        port = self.get("Port", name, op)
        index = self.cache.get("port->bridge")
        if index is None:
            index = {p.name: br for br in self.db.rows("Bridge") for p in br.ports}
            self.cache["port->bridge"] = index
        bridge = index.get(name)
        if bridge is None:
            raise KernelError(op.kind, f"{name}: on no bridge")
        return port, bridge


def _owner(tag: str | None) -> dict[str, str]:
    return {OVSDB_TAG_KEY: tag} if tag else {}


def _new_port(txn: Any, rows: _Rows, name: str, kind: str, **port: Any) -> Any:
    mtu = port.pop("mtu", None)
    mac = port.pop("mac", None)
    iface = rows.new(txn, "Interface", name, type=kind,
                     mtu_request=[mtu] if mtu else [], mac=[mac] if mac else [])
    return rows.new(txn, "Port", name, interfaces=[iface], **port)


def _delete_port(rows: _Rows, name: str, op: o.Op) -> None:
    port, bridge = rows.port_of(name, op)
    bridge.delvalue("ports", port)
    for iface in port.interfaces:
        iface.delete()
    port.delete()


def add_to_transaction(
    txn: Any, db: Ovsdb, op: o.Op, cache: dict[str, Any], new_port_mtu: bool = True
) -> None:
    """``op``'s rows in ``txn``; a new internal port without its MTU unless ``new_port_mtu``."""
    rows = _Rows(db, cache)
    if isinstance(op, o.CreateLink):
        link = op.link
        if link.kind == "ovs-bridge":
            local = _new_port(txn, rows, link.name, "internal", mtu=link.mtu)
            bridge = rows.new(txn, "Bridge", link.name, ports=[local],
                              external_ids=_owner(link.tag))
            db.root().addvalue("bridges", bridge)
        else:
            mtu = link.mtu if new_port_mtu else None
            port = _new_port(txn, rows, link.name, "internal", mtu=mtu, mac=link.mac,
                             tag=[link.vlan_id] if link.vlan_id is not None else [],
                             external_ids=_owner(link.tag))
            rows.get("Bridge", link.master or "", op).addvalue("ports", port)
    elif isinstance(op, o.DeleteLinks):
        for name in op.names:
            if _is_bridge(db, cache, name):
                bridge = rows.get("Bridge", name, op)
                db.root().delvalue("bridges", bridge)
                bridge.delete()
            else:
                _delete_port(rows, name, op)
    elif isinstance(op, o.SetMaster):
        if op.master is None:
            _delete_port(rows, op.name, op)
        else:
            rows.get("Bridge", op.master, op).addvalue("ports", _new_port(txn, rows, op.name, ""))
    elif isinstance(op, o.SetMtu):
        rows.get("Interface", op.name, op).mtu_request = [op.mtu]
    elif isinstance(op, o.SetMac):
        rows.get("Interface", op.name, op).mac = [op.mac]
    elif isinstance(op, o.SetTag):
        table = "Bridge" if _is_bridge(db, cache, op.name) else "Port"
        rows.get(table, op.name, op).external_ids = _owner(op.tag)
    else:
        raise KernelError(op.kind, f"not an OVS op: {op.describe()}")


def _is_bridge(db: Ovsdb, cache: dict[str, Any], name: str) -> bool:
    try:
        _Rows(db, cache).get("Bridge", name, o.DeleteLinks((name,)))
    except KernelError:
        return False
    return True
