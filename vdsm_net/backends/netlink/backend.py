"""The backend port on the real kernel: rtnetlink through our own small codec (``codec``; ``tc``
for host QoS) and, for bond options and NIC facts, sysfs as seen from the target namespace.

The netlink socket is opened by the ``NetlinkWorker`` thread, inside the target namespace, and then
used from the caller's thread under a lock: a socket keeps the namespace it was created in, so no
call needs a hop to the worker thread. ``apply_batch`` sends many ops in few sendmsg calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.netlink.apply import BatchWriter
from vdsm_net.backends.netlink.bondopts import read_bond_options
from vdsm_net.backends.netlink.nicfacts import read_nic_facts
from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl import tc
from vdsm_net.backends.netlink.rtnl.addrs import decode_addresses, decode_routes, decode_rules
from vdsm_net.backends.netlink.rtnl.links import Cached, Message, decode_links, dump_request
from vdsm_net.backends.netlink.worker import NetlinkWorker
from vdsm_net.model import ops as o
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.tc import TC_H_ROOT, TcObject

_DUMP_RETRIES = 12
_DUMP_PAUSE = 0.01  # seconds before the first retry, doubled each time up to _DUMP_PAUSE_MAX
_DUMP_PAUSE_MAX = 0.5


class NetlinkBackend:
    """``Backend`` on the running kernel, in the current namespace or the named one."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._worker = NetlinkWorker(netns)
        try:
            self._sysfs = self._worker.sysfs_root()
            self._sock = self._worker.call(c.RtnlSocket)
        except BaseException:
            self._worker.close()
            raise
        self._lock = threading.Lock()
        self._cache: dict[str, Cached] = {}
        self.writes = 0

    # ---- observation -------------------------------------------------------------------------

    def observe(self, stats: bool = True) -> KernelState:
        """One snapshot; ``stats=False`` leaves ``Link.stats`` out (None) where the kernel can
        skip the counters, which the planner never reads."""
        with self._lock:
            link_msgs = self._get(dump_request(stats))
            addr_msgs = self._dump(c.RTM_GETADDR, bytes(8))
            route_msgs = self._dump(c.RTM_GETROUTE, bytes(12))
            rule_msgs = self._dump(c.RTM_GETRULE, bytes(12))
            qdisc_msgs = self._dump(tc.RTM_GETQDISC, tc.dump_header())
            dump = decode_links(link_msgs, lambda bond: read_bond_options(self._sysfs, bond),
                                stats)
            self._cache = dump.cache
            objects = self._tc(qdisc_msgs, dump.names)
        return KernelState(
            links=dump.links,
            addresses=decode_addresses(addr_msgs, dump.names),
            routes=decode_routes(route_msgs, dump.names),
            rules=decode_rules(rule_msgs),
            tc=objects,
            hidden=frozenset(dump.names.values()) - frozenset(dump.links),
        )

    def _tc(self, qdisc_msgs: list[Message], names: dict[int, str]) -> frozenset[TcObject]:
        """Our qdiscs, then the classes and filters of each device whose root is ours."""
        qdiscs = tc.decode_qdiscs(qdisc_msgs, names)
        out: set[TcObject] = set(qdiscs)
        index = {name: i for i, name in names.items()}
        for root in (q for q in qdiscs if q.parent == TC_H_ROOT):
            i = index[root.dev]
            classes = self._dump(tc.RTM_GETTCLASS, tc.dump_header(i))
            filters = self._dump(tc.RTM_GETTFILTER, tc.dump_header(i, tc.ROOT))
            out.update(tc.decode_classes(classes, root.dev))
            out.update(tc.decode_filters(filters, root.dev))
        return frozenset(out)

    def _dump(self, kind: int, header: bytes) -> list[Message]:
        return self._get(c.message(kind, c.NLM_F_DUMP, header))

    def _get(self, request: bytes) -> list[Message]:
        """One dump, taken again while the kernel changes under it (NLM_F_DUMP_INTR), after
        a pause that doubles each time: after a large setup, IPv6 duplicate address detection
        and carrier changes on the new links go on for seconds in a slow guest, and five dumps
        back to back all came back interrupted."""
        for attempt in range(_DUMP_RETRIES - 1):
            try:
                return self._sock.get(request)
            except InterruptedError:
                time.sleep(min(_DUMP_PAUSE * 2 ** attempt, _DUMP_PAUSE_MAX))
        return self._sock.get(request)

    def forget_links(self) -> None:
        """Links were made or deleted by someone else (ovs-vswitchd): look names up again."""
        with self._lock:
            self._cache.clear()

    def nic_facts(self, name: str) -> NicFacts:
        return read_nic_facts(name, self._sysfs)

    def close(self) -> None:
        with self._lock:
            self._sock.close()
        self._worker.close()

    # ---- apply -------------------------------------------------------------------------------

    def apply(self, op: o.Op) -> None:
        """Apply one op, or raise ``KernelError`` and change nothing."""
        self.apply_batch((op,))

    def apply_batch(self, ops: Sequence[o.Op]) -> None:
        """Apply ops in order, batched; on a refusal raise ``KernelError`` naming the first
        refused op (the ops of its batch after it were sent too: see ``apply``)."""
        with self._lock:
            writer = BatchWriter(self._sock, self._cache, self._sysfs)
            try:
                writer.run(ops)
            finally:
                self.writes += writer.done
