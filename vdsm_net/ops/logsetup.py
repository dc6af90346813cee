"""How vdsm-netd logs: plain lines, journald priorities when stderr is the journal, or JSON.

``-v`` turns on our own debug lines (``vdsm-netd``, ``vdsm_net``, ``rpc``); the libraries'
(pyroute2, asyncio, prometheus) stay at WARNING either way. Records carry their message only:
exceptions expected in operation are logged as their text by the callers, and a traceback is
shown only by ``log.exception`` (a bug).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

OUR_LOGGERS = ("vdsm-netd", "vdsm_net", "rpc")
LIBRARY_LOGGERS = ("pyroute2", "asyncio", "prometheus_client", "urllib3")
JOURNAL_STREAM_ENV = "JOURNAL_STREAM"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# sd-daemon(3): a "<N>" prefix gives the journal the syslog priority of the line
PRIORITIES = {
    logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7,
}


def stderr_is_journal(environ: Mapping[str, str], stream: TextIO) -> bool:
    """systemd sets ``JOURNAL_STREAM=DEV:INODE`` of the stream it connected; trust it only
    when our stderr is still that stream (a child that redirected stderr must not use it)."""
    dev, sep, ino = environ.get(JOURNAL_STREAM_ENV, "").partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def priority(levelno: int) -> int:
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>name: message``: the journal adds its own time stamp."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return f"<{priority(record.levelno)}>" + super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the call fields if any."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, sort_keys=False, default=str)


def formatter_for(fmt: str, environ: Mapping[str, str], stream: TextIO) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if stderr_is_journal(environ, stream):
        return JournalFormatter()
    return logging.Formatter(PLAIN_FORMAT)


def setup_logging(
    fmt: str = "text", verbose: bool = False, environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install the one handler on the root logger (replacing any) and set the levels."""
    out = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter_for(fmt, os.environ if environ is None else environ, out))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
