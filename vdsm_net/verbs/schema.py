"""The runtime checks of the verbs' result shapes, derived from the one schema: the TypedDicts
of ``shapes``.

``RESULTS`` names the spec of each verb's reply (``spec_of(shapes.REPLIES[verb])``); the tests
hold every reply to it, and the client's help reads it. A spec is one of:
- a Python type: ``isinstance`` (an ``int`` spec never accepts a bool);
- ``[spec]``: a list whose items all match;
- ``Shape({...})``: a dict with exactly these keys (``Opt`` marks optional ones);
- ``MapOf(spec)``: a dict of str -> spec;
- ``OneOf(specs)``: any of them;
- a ``Check``: a named predicate (numeric strings, "on"/"off", ...).
``check(value, spec)`` raises ``Mismatch`` naming the path of the first mismatch.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vdsm_net.verbs.shapes import REPLIES, Check, Done


class Mismatch(AssertionError):
    """A value that does not have its schema's shape (an AssertionError, so a test reads it as
    a failed assertion)."""


@dataclass(frozen=True)
class Opt:
    spec: Any


@dataclass(frozen=True)
class Shape:
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class MapOf:
    spec: Any


@dataclass(frozen=True)
class OneOf:
    specs: tuple[Any, ...]


def _literal(values: tuple[Any, ...]) -> Check:
    return Check("/".join(json.dumps(v) for v in values),
                 lambda v: any(type(v) is type(x) and v == x for x in values))


NONE = Check("null", lambda v: v is None)


def spec_of(tp: Any) -> Any:
    """The runtime spec of a type of the schema (a TypedDict, list[...], dict[str, ...], a
    union, a Literal, ``Annotated[T, Check]`` or a plain type)."""
    if tp is Any:
        return object
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return next(m for m in tp.__metadata__ if isinstance(m, Check))
    if origin is typing.Literal:
        return _literal(args)
    if origin in (typing.Union, types.UnionType):
        return OneOf(tuple(NONE if a is type(None) else spec_of(a) for a in args))
    if origin is list:
        return list if args[0] is Any else [spec_of(args[0])]
    if origin is dict:
        return MapOf(spec_of(args[1]))
    if typing.is_typeddict(tp):
        # NotRequired is read from the evaluated hints: under postponed annotations Python 3.11
        # counts every key in __required_keys__
        hints = typing.get_type_hints(tp, include_extras=True)
        return Shape({k: Opt(spec_of(typing.get_args(v)[0]))
                      if typing.get_origin(v) is typing.NotRequired else spec_of(v)
                      for k, v in hints.items()})
    return tp


RESULTS: dict[str, Any] = {verb: spec_of(tp) for verb, tp in REPLIES.items()}
"""Each verb's reply spec (``check(reply, RESULTS[verb])``)."""
NETWORK_CAPS = RESULTS["Host.getNetworkCapabilities"]
CAPS = RESULTS["Host.getCapabilities"]
HOST_STATS = RESULTS["Host.getStats"]
NETWORK_STATISTICS = RESULTS["Host.getNetworkStatistics"]
DONE = spec_of(Done)


def check(value: Any, spec: Any, path: str = "$") -> None:
    if isinstance(spec, Check):
        if not spec.ok(value):
            raise Mismatch(f"{path}: {value!r} is not {spec.name}")
    elif isinstance(spec, OneOf):
        errors = []
        for option in spec.specs:
            try:
                check(value, option, path)
                return
            except Mismatch as exc:
                errors.append(str(exc))
        raise Mismatch(f"{path}: matches no alternative: {errors}")
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise Mismatch(f"{path}: {value!r} is not a list")
        for i, item in enumerate(value):
            check(item, spec[0], f"{path}[{i}]")
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: {value!r} is not an object")
        for key, item in value.items():
            if not isinstance(key, str):
                raise Mismatch(f"{path}: bad key {key!r}")
            check(item, spec.spec, f"{path}.{key}")
    elif isinstance(spec, Shape):
        _check_shape(value, spec, path)
    elif spec is int:
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise Mismatch(f"{path}: {value!r} not int")
    elif spec is float:
        if not isinstance(value, float):
            raise Mismatch(f"{path}: {value!r} is not a float")
    else:
        if not isinstance(value, spec):
            raise Mismatch(f"{path}: {value!r} is not {spec.__name__}")


def _check_shape(value: Any, spec: Shape, path: str) -> None:
    if not isinstance(value, dict):
        raise Mismatch(f"{path}: {value!r} is not an object")
    for key, sub in spec.fields.items():
        if key not in value:
            if not isinstance(sub, Opt):
                raise Mismatch(f"{path}: missing key {key!r}")
            continue
        check(value[key], sub.spec if isinstance(sub, Opt) else sub, f"{path}.{key}")
    extra = set(value) - set(spec.fields)
    if extra:
        raise Mismatch(f"{path}: unexpected keys {sorted(extra)}")
