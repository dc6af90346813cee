"""The traffic-control part of a plan: host QoS's HFSC trees (``model.tc``) on wanted links.

Objects are matched by key (device, kind, handle or preference) and planned like links: what
differs is changed in place where the kernel can (a class whose curves are only added or
altered), else deleted and added again. The kernel's cascades are followed: deleting a root
qdisc takes the device's whole tree, deleting a class takes its leaf, a class that a filter
points at cannot be deleted (so its filters go first and come back after). Objects on links
that the plan deletes (``dead``) are gone with them. Removals run before the links change;
additions after every link is created and up, root first, filters last.
"""

from __future__ import annotations

from collections.abc import Iterable

from vdsm_net.model.ops import AddTc, ChangeTc, DelTc, Op
from vdsm_net.model.tc import TC_H_ROOT, Qdisc, TcClass, TcFilter, TcObject, by_key

Key = tuple[str, str, int]
_ADD_ORDER = {"root": 0, "class": 1, "qdisc": 2, "filter": 3}


def _rank(obj: TcObject) -> str:
    if isinstance(obj, Qdisc) and obj.parent == TC_H_ROOT:
        return "root"
    return obj.kind_name


def _in_place(want: TcObject, seen: TcObject) -> bool:
    """A class change the kernel makes in place: it keeps every curve a change leaves out."""
    return (isinstance(want, TcClass) and isinstance(seen, TcClass)
            and set(seen.curves) <= set(want.curves))


class TcPlan:
    def __init__(self, target: Iterable[TcObject], observed: Iterable[TcObject],
                 devs: set[str], dead: set[str]) -> None:
        self.want = by_key(frozenset(target), devs)
        self.cur = by_key(frozenset(observed), devs - dead)
        self._removals: list[Op] = []
        self._plan_removals()

    def _drop(self, key: Key) -> None:
        obj = self.cur.pop(key)
        if _rank(obj) == "root":
            for other in [k for k in self.cur if k[0] == obj.dev]:
                del self.cur[other]
        elif isinstance(obj, TcClass):
            self.cur.pop((obj.dev, "qdisc", obj.minor << 16), None)

    def _delete(self, key: Key, reason: str = "") -> None:
        self._removals.append(DelTc(self.cur[key], reason=reason))
        self._drop(key)

    def _plan_removals(self) -> None:
        for key in sorted(k for k, o in self.cur.items() if _rank(o) == "root"):
            if self.want.get(key) != self.cur[key]:
                self._delete(key)
        recreate = {
            key for key, obj in self.cur.items()
            if isinstance(obj, TcClass) and self.want.get(key) != obj
            and (key not in self.want or not _in_place(self.want[key], obj))
        }
        busy = {(k[0], self.cur[k].minor) for k in recreate}  # type: ignore[union-attr]
        for key in sorted(k for k, o in self.cur.items() if isinstance(o, TcFilter)):
            obj = self.cur[key]
            assert isinstance(obj, TcFilter)
            if self.want.get(key) != obj:
                self._delete(key)
            elif (obj.dev, obj.minor) in busy:
                self._delete(key, reason="its class is recreated")
        for key in sorted(recreate):
            self._delete(key, reason="" if key not in self.want else "recreate: a curve is dropped")
        for key in sorted(k for k, o in self.cur.items() if isinstance(o, Qdisc)):
            if self.want.get(key) != self.cur[key]:
                self._delete(key)

    def removals(self) -> list[Op]:
        return self._removals

    def additions(self) -> list[Op]:
        ops: list[Op] = []
        for key in sorted(self.want, key=lambda k: (_ADD_ORDER[_rank(self.want[k])], k)):
            obj, seen = self.want[key], self.cur.get(key)
            if seen is None:
                ops.append(AddTc(obj))
            elif seen != obj:
                ops.append(ChangeTc(obj))
        return ops
