"""rpc.guard without sockets: admission, making room at the cap, the memory budget's order."""

from __future__ import annotations

from typing import Any, cast

from rpc.guard import Guard, GuardLimits, peer_key
from rpc.stomp.connection import Connection


class FakeConn:
    """What the guard reads of a connection, and what it does to one."""

    def __init__(self, name: str, proven: bool, last_read: float, usage: int = 0) -> None:
        self.name = name
        self.proven = proven
        self.last_read = last_read
        self.peer = (name, 1)
        self.charged = 0
        self.held = usage
        self.shed_for: str | None = None

    def usage(self) -> int:
        return 0 if self.shed_for else self.held

    def shed(self, reason: str, *, error: bool) -> None:
        self.shed_for = reason
        self.charged = 0


def _guard(conns: list[FakeConn], handshakes: dict[Any, Any] | None = None, **kw: Any) -> Guard:
    limits = GuardLimits(**kw)
    return Guard(limits, cast(set[Connection], set(conns)), handshakes or {})


def test_per_peer_limit_and_release() -> None:
    g = _guard([], max_per_peer=2)
    assert g.admit("a") and g.admit("a") and not g.admit("a")
    assert g.admit("b")
    g.release("a")
    assert g.admit("a")
    g.release("b")
    assert g.peers == {"a": 2}


def test_room_is_made_from_a_handshake_first() -> None:
    abandoned: list[object] = []
    old = FakeConn("old", proven=True, last_read=0.0)
    g = _guard([old], {"hs1": abandoned.append, "hs2": abandoned.append}, max_connections=3)
    assert g.admit("new")
    assert abandoned == ["dropped for a newcomer at the connection cap"]  # only the oldest one
    assert old.shed_for is None


def test_then_from_one_that_never_sent_connect_then_the_longest_silent() -> None:
    quiet = FakeConn("quiet", proven=True, last_read=1.0)
    busy = FakeConn("busy", proven=True, last_read=5.0)
    mute = FakeConn("mute", proven=False, last_read=9.0)
    g = _guard([quiet, busy, mute], max_connections=3)
    assert g.admit("x")
    assert [c.name for c in (quiet, busy, mute) if c.shed_for] == ["mute"]
    g.connections.add(cast(Connection, FakeConn("x", proven=True, last_read=10.0)))
    assert g.admit("y")
    assert [c.name for c in (quiet, busy, mute) if c.shed_for] == ["quiet", "mute"]
    assert sorted(cast(FakeConn, c).name for c in g.connections) == ["busy", "x"]


def test_no_room_when_nobody_is_there() -> None:
    assert not _guard([], max_connections=0).admit("a")


def test_budget_closes_the_largest_holders_until_the_rest_fit() -> None:
    conns = [FakeConn(n, True, 0.0, usage) for n, usage in (("a", 50), ("b", 30), ("c", 20))]
    g = _guard(conns, memory_budget=60)
    for c in conns:
        g.charge(cast(Connection, c), c.held)
    assert [c.name for c in conns if c.shed_for] == ["a"]  # 50 closed, 30 + 20 fit
    assert g.used == 50
    conns[2].held = 40
    g.charge(cast(Connection, conns[2]), 40)
    assert [c.name for c in conns if c.shed_for] == ["a", "c"]
    assert g.used == 30


def test_peer_key_folds_ipv4_mapped_addresses() -> None:
    assert peer_key(("::ffff:192.0.2.1", 1, 0, 0)) == peer_key(("192.0.2.1", 2)) == "192.0.2.1"
    assert peer_key(("2001:db8::1", 1, 0, 0)) == "2001:db8::1"
