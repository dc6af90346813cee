"""The simulated kernel's traffic control: host QoS's qdiscs, classes and filters, with the
rules the kernel (6.1, sch_hfsc, cls_u32, cls_basic) enforces on them:

- a root qdisc needs its device, one per device; a class needs the root qdisc, and at least a
  real-time or a link-share curve (EINVAL); a leaf needs its class, one per class;
- a filter needs the root qdisc; a preference holds one filter;
- a change of a class keeps every curve it leaves out (hfsc_change_class);
- a class that a filter points at cannot be deleted (EBUSY); deleting a class deletes its leaf,
  deleting the root qdisc (or the device) deletes the device's whole tree.
"""

from __future__ import annotations

from vdsm_net.model.errors import KernelError
from vdsm_net.model.ops import AddTc, ChangeTc, DelTc, TcOp
from vdsm_net.model.tc import TC_H_ROOT, Qdisc, TcClass, TcFilter, TcObject, classid

Key = tuple[str, str, int]


class TcTable:
    def __init__(self) -> None:
        self.objects: dict[Key, TcObject] = {}

    def snapshot(self) -> frozenset[TcObject]:
        return frozenset(self.objects.values())

    def drop_dev(self, dev: str) -> None:
        for key in [k for k in self.objects if k[0] == dev]:
            del self.objects[key]

    def _root(self, dev: str) -> Qdisc | None:
        for obj in self.objects.values():
            if isinstance(obj, Qdisc) and obj.dev == dev and obj.parent == TC_H_ROOT:
                return obj
        return None

    def apply(self, op: TcOp, dev_exists: bool) -> None:
        obj = op.obj
        if not dev_exists:
            raise KernelError(op.kind, f"{obj.describe()}: no such device")
        if isinstance(op, AddTc):
            self._add(op)
        elif isinstance(op, ChangeTc):
            self._change(op)
        elif isinstance(op, DelTc):
            self._delete(op)
        else:
            raise KernelError(op.kind, "unsupported op")

    def _fail(self, op: TcOp, why: str) -> KernelError:
        return KernelError(op.kind, f"{op.obj.describe()}: {why}")

    def _add(self, op: AddTc) -> None:
        obj = op.obj
        if obj.key in self.objects:
            raise self._fail(op, "exists (EEXIST)")
        root = self._root(obj.dev)
        if isinstance(obj, Qdisc) and obj.parent == TC_H_ROOT:
            if root is not None:
                raise self._fail(op, "the device has a root qdisc of ours (EEXIST)")
        elif root is None:
            raise self._fail(op, "no such parent qdisc (ENOENT)")
        if isinstance(obj, Qdisc) and obj.parent != TC_H_ROOT:
            owner = (obj.dev, "class", obj.parent & 0xFFFF)
            if owner not in self.objects or classid(obj.parent & 0xFFFF) != obj.parent:
                raise self._fail(op, "no such parent class (ENOENT)")
            if any(isinstance(o, Qdisc) and o.dev == obj.dev and o.parent == obj.parent
                   for o in self.objects.values()):
                raise self._fail(op, "the class has a leaf (EEXIST)")
        if isinstance(obj, TcClass) and obj.ls is None and obj.rt is None:
            raise self._fail(op, "a class needs a real-time or a link-share curve (EINVAL)")
        self.objects[obj.key] = obj

    def _change(self, op: ChangeTc) -> None:
        obj, seen = op.obj, self.objects.get(op.obj.key)
        if not isinstance(obj, TcClass) or not isinstance(seen, TcClass):
            raise self._fail(op, "only an existing class changes in place (ENOENT)")
        curves = {**seen.curves, **obj.curves}
        self.objects[obj.key] = TcClass(seen.dev, seen.minor, curves.get("ls"), curves.get("ul"),
                                        curves.get("rt"))

    def _delete(self, op: DelTc) -> None:
        obj = op.obj
        if self.objects.get(obj.key) != obj:
            raise self._fail(op, "no such object (ENOENT)")
        if isinstance(obj, TcClass):
            if any(isinstance(f, TcFilter) and f.dev == obj.dev and f.minor == obj.minor
                   for f in self.objects.values()):
                raise self._fail(op, "a filter points at the class (EBUSY)")
            self.objects.pop((obj.dev, "qdisc", obj.minor << 16), None)
        if isinstance(obj, Qdisc) and obj.parent == TC_H_ROOT:
            self.drop_dev(obj.dev)
            return
        del self.objects[obj.key]
