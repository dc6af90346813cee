"""A JSON stream parser for the ``ovs`` package's JSON-RPC on Python's C-accelerated ``json``.

The ``ovs`` package from PyPI parses JSON-RPC in pure Python, character by character, unless
its C extension was built against libopenvswitch (Debian ships no headers for it). An OVSDB
update for 1000 ports took most of a 16 s setup that way in the guest. ``FastJsonParser`` has the
interface ``ovs.jsonrpc`` uses (``feed`` returns how many characters it took, ``is_done``,
``finish`` returns the value or an error string) and ``install()`` puts it in place of
``ovs.json.Parser`` when the pure-Python parser would be used.
"""

from __future__ import annotations

import json
from typing import Any

import ovs.json

_DECODER = json.JSONDecoder()


class FastJsonParser:
    """One JSON value from a stream of text chunks."""

    def __init__(self, check_trailer: bool = False) -> None:
        self._chunks: list[str] = []
        self._size = 0
        self._value: Any = None
        self._error: str | None = None
        self._done = False

    def feed(self, text: str) -> int:
        if self._done:
            return 0
        before = self._size
        self._chunks.append(text)
        self._size += len(text)
        if "}" not in text and "]" not in text:  # cannot end a value: no decode attempt
            return len(text)
        whole = "".join(self._chunks)
        start = len(whole) - len(whole.lstrip())
        try:
            self._value, end = _DECODER.raw_decode(whole, start)
        except json.JSONDecodeError:
            return len(text)  # not complete yet
        self._done = True
        return end - before

    def is_done(self) -> bool:
        return self._done

    def finish(self) -> Any:
        if not self._done:
            whole = "".join(self._chunks).strip()
            if not whole:
                return "empty input stream"
            try:
                return _DECODER.decode(whole)
            except json.JSONDecodeError as exc:
                return f"syntax error: {exc}"
        return self._value


def install() -> None:
    """Use ``FastJsonParser`` for ovs's JSON-RPC when its C parser is not available."""
    if ovs.json.PARSER == ovs.json.PARSER_PY:
        ovs.json.Parser = FastJsonParser
