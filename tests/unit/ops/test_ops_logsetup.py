"""The log formats: journald priorities only when stderr really is the journal's stream, JSON
lines with the call fields, -v for our loggers only, and the call log's result codes."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vdsm_net.ops.calllog import format_peer, result_code
from vdsm_net.ops.logsetup import setup_logging, stderr_is_journal


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("vdsm-netd", "vdsm_net", "rpc", "pyroute2", "asyncio"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _journal_env(path: Path) -> dict[str, str]:
    st = os.stat(path)
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def test_journal_priorities_when_stderr_is_the_journal_stream(tmp_path: Path) -> None:
    path = tmp_path / "stream"
    with open(path, "w+", encoding="utf-8") as stream:
        setup_logging("text", environ=_journal_env(path), stream=stream)
        logging.getLogger("vdsm-netd").error("bond0: no such NIC")
        logging.getLogger("vdsm_net.x").info("plan applied")
        logging.getLogger("rpc.y").debug("hidden without -v")
        stream.flush()
    assert path.read_text().splitlines() == [
        "<3>vdsm-netd: bond0: no such NIC", "<6>vdsm_net.x: plan applied"]


def test_a_stale_journal_stream_gives_plain_lines(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    with open(tmp_path / "stream", "w+", encoding="utf-8") as stream:
        assert not stderr_is_journal(_journal_env(other), stream)
        assert not stderr_is_journal({"JOURNAL_STREAM": "junk"}, stream)
        assert stderr_is_journal(_journal_env(tmp_path / "stream"), stream)


def test_json_lines_carry_the_call_fields() -> None:
    out = io.StringIO()
    setup_logging("json", environ={}, stream=out)
    fields = {"verb": "Host.ping2", "code": 0}
    logging.getLogger("vdsm-netd.calls").info("call %(verb)s", fields, extra={"fields": fields})
    doc = json.loads(out.getvalue())
    assert {k: doc[k] for k in ("level", "logger", "message", "verb", "code")} == {
        "level": "info", "logger": "vdsm-netd.calls", "message": "call Host.ping2",
        "verb": "Host.ping2", "code": 0}


def test_verbose_is_our_debug_not_the_libraries() -> None:
    out = io.StringIO()
    setup_logging("text", verbose=True, environ={}, stream=out)
    logging.getLogger("vdsm_net.engine").debug("ours")
    logging.getLogger("pyroute2.netlink").debug("theirs")
    logging.getLogger("asyncio").debug("theirs too")
    assert "ours" in out.getvalue() and "theirs" not in out.getvalue()


@pytest.mark.parametrize(("text", "code"), [
    ('{"jsonrpc": "2.0", "id": "a", "result": true}', 0),
    ('{"jsonrpc": "2.0", "id": "\\"error\\": ", "result": {"error": 5}}', 0),
    ('{"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "x"}}', -32601),
    ('{"jsonrpc": "2.0", "id": 1, "error": {"message": "x", "code": 25}}', 25),
])
def test_the_result_code_of_a_serialised_response(text: str, code: int) -> None:
    assert result_code(text) == code


def test_peers_print_ipv6_in_brackets() -> None:
    assert format_peer(("::1", 5, 0, 0)) == "[::1]:5"
    assert format_peer(("127.0.0.1", 5)) == "127.0.0.1:5" and format_peer(None) == "-"


def test_a_failing_verb_is_logged_as_its_message_with_the_call_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vdsm_net.ops.calllog import LoggedDispatcher

    def broken() -> None:
        raise OSError("create_link: bond0: Operation not supported")

    dispatcher = LoggedDispatcher()
    dispatcher.register("Host.broken", broken)
    with caplog.at_level(logging.INFO):
        reply = dispatcher.dispatch('{"jsonrpc": "2.0", "id": 1, "method": "Host.broken"}')
    assert reply is not None and '"code": -32603' in reply.text
    messages = [r.getMessage() for r in caplog.records]
    assert "method Host.broken failed: create_link: bond0: Operation not supported" in messages
    assert any(m.startswith("call Host.broken flow=- peer=- subject=- ") and
               m.endswith("code=-32603") for m in messages)
    assert not any("OSError(" in m for m in messages)
