"""The netlink monitor's message parsing on synthetic rtnetlink buffers: which link each event
names, the index->name map it keeps, and what it makes of messages it cannot name."""

from __future__ import annotations

import errno
import logging
import struct

import pytest

from vdsm_net.backends.netlink.monitor import RTA_OIF, LinkNamer, NetlinkMonitor
from vdsm_net.backends.netlink.rtnl.codec import (
    IFADDRMSG,
    IFINFOMSG,
    IFLA_IFNAME,
    IFLA_MTU,
    NLMSG_DONE,
    NLMSGHDR,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RTM_NEWRULE,
    RTMSG,
    asciiz,
    attr,
    message,
    u32,
)

RTA_DST, RTA_TABLE = 1, 15


def link(kind: int, index: int, name: str | None, *, mtu: int = 1500) -> bytes:
    head = IFINFOMSG.pack(0, 1, index, 0, 0)
    parts = [u32(IFLA_MTU, mtu)] + ([asciiz(IFLA_IFNAME, name)] if name is not None else [])
    return message(kind, 0, head, *parts)


def addr(kind: int, index: int) -> bytes:
    return message(kind, 0, IFADDRMSG.pack(2, 24, 0, 0, index), attr(1, bytes([192, 0, 2, 5])))


def route(kind: int, oif: int | None) -> bytes:
    head = RTMSG.pack(2, 24, 0, 0, 254, 4, 0, 1, 0)
    parts = [attr(RTA_DST, bytes([192, 0, 2, 0])), u32(RTA_TABLE, 254)]
    if oif is not None:
        parts.append(u32(RTA_OIF, oif))
    return message(kind, 0, head, *parts)


class Lookup:
    """A stand-in for ``if_indextoname``: knows ``known``, raises OSError otherwise."""

    def __init__(self, known: dict[int, str]) -> None:
        self.known = known
        self.calls: list[int] = []

    def __call__(self, index: int) -> str:
        self.calls.append(index)
        if index not in self.known:
            raise OSError(6, "No such device or address")
        return self.known[index]


def scan(namer: LinkNamer, *msgs: bytes) -> tuple[int, set[str | None]]:
    buf = b"".join(msgs)
    out: set[str | None] = set()
    return namer.scan(buf, len(buf), out), out


def test_link_messages_name_the_link_and_teach_the_map() -> None:
    lookup = Lookup({})
    namer = LinkNamer(lookup)
    count, names = scan(namer, link(RTM_NEWLINK, 7, "net1"), addr(RTM_NEWADDR, 7))
    assert (count, names) == (2, {"net1"})
    assert namer.names == {7: "net1"} and lookup.calls == []  # the address needed no look-up


def test_a_deleted_link_leaves_the_map() -> None:
    lookup = Lookup({})
    namer = LinkNamer(lookup)
    scan(namer, link(RTM_NEWLINK, 7, "net1"))
    count, names = scan(namer, link(RTM_DELLINK, 7, "net1"), addr(RTM_DELADDR, 7))
    assert count == 2 and names == {"net1", None}  # index 7 is gone from map and kernel
    assert 7 not in namer.names and lookup.calls == [7]


def test_a_rename_replaces_the_mapped_name() -> None:
    namer = LinkNamer(Lookup({}))
    scan(namer, link(RTM_NEWLINK, 3, "eth0"))
    assert scan(namer, link(RTM_NEWLINK, 3, "nic0"), route(RTM_NEWROUTE, 3))[1] == {"nic0"}


@pytest.mark.parametrize("kind", [RTM_NEWADDR, RTM_DELADDR])
def test_address_messages_are_named_by_their_index(kind: int) -> None:
    lookup = Lookup({4: "bond0"})
    namer = LinkNamer(lookup)
    assert scan(namer, addr(kind, 4)) == (1, {"bond0"})
    assert scan(namer, addr(kind, 4)) == (1, {"bond0"})
    assert lookup.calls == [4]  # a miss is looked up once, then remembered


@pytest.mark.parametrize("kind", [RTM_NEWROUTE, RTM_DELROUTE])
def test_route_messages_are_named_by_their_output_interface(kind: int) -> None:
    namer = LinkNamer(Lookup({9: "data"}))
    assert scan(namer, route(kind, 9)) == (1, {"data"})


def test_what_cannot_be_named_is_none() -> None:
    namer = LinkNamer(Lookup({}))
    msgs = (route(RTM_NEWROUTE, None),  # no RTA_OIF (e.g. multipath, blackhole)
            addr(RTM_NEWADDR, 0),
            addr(RTM_NEWADDR, 55),  # unknown to the namespace
            link(RTM_NEWLINK, 12, None))  # a link message without IFLA_IFNAME, index unknown
    for msg in msgs:
        assert scan(namer, msg) == (1, {None}), msg


def test_other_messages_are_counted_but_name_nothing() -> None:
    namer = LinkNamer(Lookup({1: "lo"}))
    done = NLMSGHDR.pack(NLMSGHDR.size + 4, NLMSG_DONE, 0, 0, 0) + b"\0" * 4
    rule = message(RTM_NEWRULE, 0, RTMSG.pack(2, 0, 0, 0, 254, 0, 0, 1, 0))
    assert scan(namer, done, rule) == (2, set())


def test_a_batch_unions_the_names_of_all_its_messages() -> None:
    namer = LinkNamer(Lookup({}))
    msgs = [link(RTM_NEWLINK, i, f"n{i}") for i in range(1, 6)] + [route(RTM_NEWROUTE, 3)]
    assert scan(namer, *msgs) == (6, {f"n{i}" for i in range(1, 6)})


def test_odd_length_names_keep_messages_aligned() -> None:
    namer = LinkNamer(Lookup({}))
    msgs = [link(RTM_NEWLINK, 1, "a"), link(RTM_NEWLINK, 2, "bond0.100"), addr(RTM_NEWADDR, 2)]
    assert all(len(m) % 4 == 0 for m in msgs)
    assert scan(namer, *msgs) == (3, {"a", "bond0.100"})


def test_a_truncated_tail_stops_the_scan() -> None:
    namer = LinkNamer(Lookup({}))
    whole, cut = link(RTM_NEWLINK, 1, "net1"), link(RTM_NEWLINK, 2, "net2")
    buf = whole + cut
    out: set[str | None] = set()
    assert namer.scan(buf, len(buf) - 8, out) == 1 and out == {"net1"}
    bad = struct.pack("=IHHII", 3, RTM_NEWLINK, 0, 0, 0)  # a length below the header's
    assert namer.scan(whole + bad, len(whole) + len(bad), out) == 1


def test_the_scan_reads_only_the_given_end() -> None:
    namer = LinkNamer(Lookup({}))
    first, second = link(RTM_NEWLINK, 1, "net1"), link(RTM_NEWLINK, 2, "net2")
    out: set[str | None] = set()
    assert namer.scan(first + second, len(first), out) == 1 and out == {"net1"}


class FakeSocket:
    """Hands out queued datagrams and errors from ``recv``, then "nothing queued"."""

    def __init__(self, *items: bytes | OSError) -> None:
        self.items = list(items)

    def recv(self, _size: int) -> bytes:
        if not self.items:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        item = self.items.pop(0)
        if isinstance(item, OSError):
            raise item
        return item


def drain(mon: NetlinkMonitor, sock: FakeSocket) -> set[str | None]:
    return mon._drain(sock)  # type: ignore[arg-type]  # the read step of the thread's loop


def test_an_overflow_asks_for_a_full_compare_and_reading_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mon = NetlinkMonitor(lambda _names: None)
    mon.clock = lambda: 100.0
    mon._namer = LinkNamer(Lookup({}))
    overflow = OSError(errno.ENOBUFS, "No buffer space available")
    sock = FakeSocket(link(RTM_NEWLINK, 1, "net1"), overflow, link(RTM_NEWLINK, 2, "net2"),
                      OSError(errno.ENOBUFS, "No buffer space available"))
    with caplog.at_level(logging.WARNING, logger="vdsm_net.backends.netlink.monitor"):
        assert drain(mon, sock) == {"net1", "net2", None}
    assert mon.events == 2 and mon.overflows == 2 and sock.items == []
    assert len(caplog.records) == 1  # at most one warning a second
    mon.clock = lambda: 101.5
    with caplog.at_level(logging.WARNING, logger="vdsm_net.backends.netlink.monitor"):
        assert drain(mon, FakeSocket(overflow)) == {None}
    assert len(caplog.records) == 2


def test_other_socket_errors_are_not_taken_for_an_overflow() -> None:
    mon = NetlinkMonitor(lambda _names: None)
    with pytest.raises(OSError) as info:
        drain(mon, FakeSocket(OSError(errno.EBADF, "Bad file descriptor")))
    assert info.value.errno == errno.EBADF and mon.overflows == 0


def test_a_batch_ends_when_nothing_more_is_queued() -> None:
    mon = NetlinkMonitor(lambda _names: None)
    mon._namer = LinkNamer(Lookup({}))
    sock = FakeSocket(link(RTM_NEWLINK, 1, "net1"))
    assert drain(mon, sock) == {"net1"}
    assert drain(mon, sock) == set() and mon.events == 1


def test_start_and_stop_in_this_namespace() -> None:
    """Listening only (nothing is changed): the thread starts bound and stop() ends it."""
    mon = NetlinkMonitor(lambda _names: None).start()
    assert mon.alive
    mon.stop()
    assert not mon.alive
    mon.stop()  # a second stop is harmless


def test_muted_events_are_dropped_unnamed_and_ask_for_a_full_compare() -> None:
    """While the engine writes, a batch is read but not named; it asks for a compare of
    everything, after its datagrams were read. Unmuted, naming resumes."""
    mon = NetlinkMonitor(lambda _names: None)
    mon._namer = LinkNamer(Lookup({}))
    mon.mute(True)
    sock = FakeSocket(link(RTM_NEWLINK, 1, "net1"), addr(RTM_NEWADDR, 1))
    assert drain(mon, sock) == {None}
    assert sock.items == [] and mon.dropped == 2 and mon.events == 0
    assert drain(mon, sock) == set()  # nothing queued: nothing to compare
    mon.mute(False)
    assert drain(mon, FakeSocket(link(RTM_NEWLINK, 2, "net2"))) == {"net2"}
