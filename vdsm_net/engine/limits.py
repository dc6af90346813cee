"""Size limits of a setupNetworks request, checked before anything else reads it (21 past them).

vdsm has none: a 4 MiB custom value or a 492-deep map is stored as it came. Ours are far above
what an engine sends (its custom values are short strings, ``hostQos`` is four levels deep) and
low enough that no value can make the agent spend memory or time, or echo megabytes back in an
error message. The walk is iterative, so depth never costs Python recursion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError

MAX_DEPTH = 8
"""Maps and lists inside ``networks``, ``bondings`` or ``options``: network -> attributes ->
``hostQos`` -> out -> ls -> m1 is 5."""
MAX_STRING = 4096
"""Characters of any string, map key or not (a long ``bridge_opts`` is a few hundred)."""
MAX_CUSTOM_KEYS = 64
"""Keys of one network's ``custom`` map."""

_Path = tuple[Any, ...]  # (parent path, key), built only when an error needs it


def _where(path: _Path) -> str:
    parts: list[str] = []
    while path:
        path, key = path
        text = str(key)
        parts.append(text if len(text) <= 40 else text[:40] + "...")
    return ".".join(reversed(parts))


def check_request_size(**parts: Any) -> None:
    """Raise 21 when any of the named parts is nested deeper than ``MAX_DEPTH``, holds a string
    longer than ``MAX_STRING``, or gives a network more than ``MAX_CUSTOM_KEYS`` custom keys."""
    stack: list[tuple[Any, int, _Path]] = [(v, 0, ((), k)) for k, v in parts.items()]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise NetworkError(ERR_BAD_PARAMS, f"{_where(path)}: a string longer than "
                                   f"{MAX_STRING} characters")
            continue
        if isinstance(value, Mapping):
            items = list(value.items())
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        else:
            continue
        if depth >= MAX_DEPTH:
            raise NetworkError(ERR_BAD_PARAMS, f"{_where(path)}: nested deeper than "
                               f"{MAX_DEPTH} levels")
        if path[1] == "custom" and len(items) > MAX_CUSTOM_KEYS:
            raise NetworkError(ERR_BAD_PARAMS, f"{_where(path)}: more than "
                               f"{MAX_CUSTOM_KEYS} keys")
        for key, item in items:
            if isinstance(key, str) and len(key) > MAX_STRING:
                raise NetworkError(ERR_BAD_PARAMS, f"{_where(path)}: a key longer than "
                                   f"{MAX_STRING} characters")
            stack.append((item, depth + 1, (path, key)))
