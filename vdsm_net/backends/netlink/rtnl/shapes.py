"""Reading a few attributes out of a netlink attribute region in a handful of C calls.

The kernel fills the messages of one dump from the same code, so links of one kind carry the same
attributes in the same order with the same lengths (the *shape*). The first region of a shape is
walked attribute by attribute, in Python, and the walk compiled into one ``struct.Struct`` that
unpacks every attribute header and captures the wanted payloads. A later region of the same length
is read with that struct and accepted only when all of its headers equal the learned ones, i.e.
when a walk would find exactly the same attributes at the same offsets; otherwise it is walked and
its own shape learned. So the result is always the walk's, and a dump of thousands of links costs
a few walks plus one unpack per message.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from vdsm_net.backends.netlink.rtnl import codec as c

Getter = Callable[[tuple[Any, ...]], tuple[Any, ...]]
MAX_SHAPES = 8  # per region length; a spec forgets its shapes past MAX_SHAPES * 64
_NONE = (None,)  # appended to the struct's values: what an absent field picks


def _getter(indexes: Sequence[int]) -> Getter:
    if len(indexes) > 1:
        return itemgetter(*indexes)
    if indexes:
        i = indexes[0]
        return lambda t: (t[i],)
    return lambda _t: ()


class _Shape:
    __slots__ = ("expected", "extract", "headers", "unpack")

    def __init__(self, fmt: str, headers: list[int], expected: tuple[int, ...],
                 picks: list[int]) -> None:
        self.unpack = struct.Struct(fmt).unpack_from
        self.headers = _getter(headers)
        self.expected = expected
        self.extract = _getter(picks)


class Spec:
    """The attributes to read from one kind of region, each with how to read its payload: a
    ``struct`` code of one value (``"I"``, ``"H"``, ``"B"``, ``"Q"``, native order, read from the
    payload's start) or ``"s"`` (the payload's bytes). ``read`` answers one value per field,
    None for a field the region does not carry (or whose payload is too short for its code)."""

    def __init__(self, fields: Sequence[tuple[int, str]]) -> None:
        self.fields = {kind: (i, code) for i, (kind, code) in enumerate(fields)}
        self.count = len(fields)
        self.shapes: dict[int, list[_Shape]] = {}
        self.learned = 0

    def read(self, buf: bytes, start: int, end: int) -> tuple[Any, ...]:
        for shape in self.shapes.get(end - start, ()):
            values = shape.unpack(buf, start)
            if shape.headers(values) == shape.expected:
                return shape.extract(values + _NONE)
        shape = self._learn(buf, start, end)
        return shape.extract(shape.unpack(buf, start) + _NONE)

    def _learn(self, buf: bytes, start: int, end: int) -> _Shape:
        fmt = ["="]
        headers: list[int] = []
        expected: list[int] = []
        where: list[int | None] = [None] * self.count
        n = 0  # values the struct yields so far
        pos = start
        while pos + 4 <= end:
            length, kind = c.NLA.unpack_from(buf, pos)
            padded = (length + 3) & ~3
            if length < 4 or pos + padded > end:
                break
            fmt.append("HH")
            headers += [n, n + 1]
            expected += [length, kind]
            n += 2
            size = length - 4
            field = self.fields.get(kind & 0x3FFF)
            if field is not None and field[1] == "s":
                fmt.append(f"{size}s{padded - length}x")
                where[field[0]] = n
                n += 1
            elif field is not None and struct.calcsize("=" + field[1]) <= size:
                fmt.append(f"{field[1]}{padded - 4 - struct.calcsize('=' + field[1])}x")
                where[field[0]] = n
                n += 1
            else:
                fmt.append(f"{padded - 4}x")
                if field is not None:  # too short for its code: read as absent
                    where[field[0]] = None
            pos += padded
        shape = _Shape("".join(fmt), headers, tuple(expected),
                       [n if w is None else w for w in where])
        self._remember(end - start, shape)
        return shape

    def _remember(self, length: int, shape: _Shape) -> None:
        self.learned += 1
        if sum(len(v) for v in self.shapes.values()) >= MAX_SHAPES * 64:
            self.shapes.clear()
        known = self.shapes.setdefault(length, [])
        if len(known) >= MAX_SHAPES:
            known.pop()
        known.insert(0, shape)
