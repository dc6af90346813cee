"""The JSON stream parser given to ovs's JSON-RPC: values split across chunks, what follows a
value left unconsumed, whitespace, and errors, as ovs's own parser reports them."""

from __future__ import annotations

import json

import ovs.json

from vdsm_net.backends.ovs.fastjson import FastJsonParser


def parse_stream(text: str, size: int) -> list[object]:
    """Feed ``text`` in chunks of ``size`` the way ovs.jsonrpc does; every value found."""
    values: list[object] = []
    parser = FastJsonParser()
    pending = ""
    for i in range(0, len(text), size):
        pending += text[i:i + size]
        while pending:
            pending = pending[parser.feed(pending):]
            if not parser.is_done():
                break
            values.append(parser.finish())
            parser = FastJsonParser()
    return values


def test_values_across_chunks_with_trailing_data_kept() -> None:
    msgs = [{"id": 1, "result": [{"a": "x}y", "b": [1, 2.5, None, True]}]},
            {"method": "update", "params": ["é", {"k": "]"}]}, []]
    text = "  " + "\n".join(json.dumps(m) for m in msgs)
    for size in (1, 3, 7, 4096):
        assert parse_stream(text, size) == msgs


def test_an_incomplete_or_bad_value_is_an_error_string() -> None:
    parser = FastJsonParser()
    assert parser.feed('{"a": ') == 6 and not parser.is_done()
    assert isinstance(parser.finish(), str)
    assert FastJsonParser().finish() == "empty input stream"


def test_it_agrees_with_ovs_own_parser() -> None:
    text = json.dumps({"x": [1, -2, 3.25, "s\\u00e9", {"y": False}]})
    theirs = ovs.json.from_string(text)
    ours = FastJsonParser()
    assert ours.feed(text) == len(text) and ours.is_done()
    assert ours.finish() == theirs
