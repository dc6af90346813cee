"""One log line per call: verb, flow id, peer and certificate subject, duration, result code.

:class:`LoggedDispatcher` is the RPC dispatcher with the line (and the call metrics) added
around each request it answers; ``0`` is success, anything else vdsm's error code. Pings on the
server's collapsed fast path are not seen here (they would drown the log).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from rpc.jsonrpc import CallContext, Dispatcher

log = logging.getLogger("vdsm-netd.calls")

_ERROR_CODE = re.compile(r'"error": \{"code": (-?\d+)')

SubjectOf = Callable[[int], str]
Observe = Callable[[str, int, float], None]


def result_code(text: str) -> int:
    """The error code of one serialised response, 0 for a result. The id comes before both
    keys and is JSON-encoded (no bare quote inside), so the first key found is the real one."""
    err = text.find('"error": ')
    res = text.find('"result": ')
    if err == -1 or (res != -1 and res < err):
        return 0
    match = _ERROR_CODE.match(text, err)
    if match is not None:
        return int(match.group(1))
    try:  # another key order: read the object
        return int(json.loads(text)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return -1


def format_peer(address: tuple[Any, ...] | None) -> str:
    if not address:
        return "-"
    host, port = str(address[0]), address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LoggedDispatcher(Dispatcher):
    """A Dispatcher that logs each answered request and reports it to ``observe``."""

    def __init__(self, *, ready: bool = True, subject_of: SubjectOf | None = None,
                 observe: Observe | None = None) -> None:
        super().__init__(ready=ready)
        self.subject_of = subject_of or (lambda _cid: "-")
        self.observe = observe

    def _one(self, req: Any, ctx: CallContext | None) -> tuple[str, bool] | None:
        start = time.monotonic()
        answer = super()._one(req, ctx)
        seconds = time.monotonic() - start
        verb = req.get("method") if isinstance(req, dict) else None
        verb = verb if isinstance(verb, str) else "-"
        code = result_code(answer[0]) if answer is not None else 0
        self._record(verb, code, seconds, ctx)
        return answer

    def _record(self, verb: str, code: int, seconds: float, ctx: CallContext | None) -> None:
        ctx = ctx or CallContext()
        fields = {
            "verb": verb, "flow_id": ctx.flow_id or "-", "peer": format_peer(ctx.peer_address),
            "subject": self.subject_of(ctx.connection_id) if ctx.connection_id else "-",
            "seconds": round(seconds, 6), "code": code,
        }
        log.info("call %(verb)s flow=%(flow_id)s peer=%(peer)s subject=%(subject)s "
                 "%(seconds).3fs code=%(code)d", fields, extra={"fields": fields})
        if self.observe is not None:
            self.observe(verb, code, seconds)
