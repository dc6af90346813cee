"""OVSDB's changes as drift events: what only the database shows (an access tag, an
``external_ids`` tag, a port's row gone while its kernel link stays) pokes the drift monitor at
once, as a netlink event does for links.

``OvsdbMonitor(sink, remote, inner)`` keeps its own IDL connection in its own thread; after each
update it compares the rows' columns with the previous ones and calls ``sink`` with the names of
the bridges, ports and interfaces that changed. ``inner`` (the netlink monitor) is started and
stopped with it, so the drift monitor has one event source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from vdsm_net.backends.ovs.ovsdb import COLUMNS, Ovsdb

log = logging.getLogger(__name__)

WATCHED = ("Bridge", "Port", "Interface")
POLL_MS = 500  # the longest a stop waits for the thread
Sink = Callable[[frozenset[str | None]], object]  # the drift monitor's poke


class Inner(Protocol):
    def start(self) -> object: ...
    def stop(self) -> None: ...
    def mute(self, on: bool) -> None: ...


def snapshot(db: Ovsdb) -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, name) -> the row's watched columns, as text (rows refer to rows by name)."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for table in WATCHED:
        for row in db.rows(table):
            out[(table, row.name)] = tuple(_text(getattr(row, c)) for c in COLUMNS[table])
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return repr(sorted(_text(v) for v in value))
    if isinstance(value, dict):
        return repr(sorted(value.items()))
    name = getattr(value, "name", None)
    return str(name) if name is not None else repr(value)


def changed(before: dict[tuple[str, str], tuple[str, ...]],
            after: dict[tuple[str, str], tuple[str, ...]]) -> frozenset[str | None]:
    """The names whose rows appeared, went or changed."""
    keys = set(before) | set(after)
    return frozenset(key[1] for key in keys if before.get(key) != after.get(key))


class OvsdbMonitor:
    """An ``EventSource`` for the drift monitor (see the module docstring)."""

    def __init__(self, sink: Sink, remote: str, inner: Inner | None = None) -> None:
        self._sink = sink
        self._remote = remote
        self._inner = inner
        self._stopped = threading.Event()
        self._db: Ovsdb | None = None
        self._thread = threading.Thread(target=self._run, name="ovsdb-monitor", daemon=True)

    def start(self) -> OvsdbMonitor:
        """Connect (the first snapshot is the baseline), then watch in the thread."""
        if self._inner is not None:
            self._inner.start()
        self._db = Ovsdb(self._remote)
        self._thread.start()
        return self

    def mute(self, on: bool) -> None:
        """The netlink monitor's mute (OVSDB's changes are few: never muted)."""
        if self._inner is not None:
            self._inner.mute(on)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        if self._db is not None:
            self._db.close()
        if self._inner is not None:
            self._inner.stop()

    def _run(self) -> None:
        db = self._db
        assert db is not None
        try:
            last = snapshot(db)
            while not self._stopped.is_set():
                if not db.wait_change(POLL_MS):
                    continue
                now = snapshot(db)
                names = changed(last, now)
                last = now
                if names:
                    self._sink(names)
        except Exception:  # the periodic compare stays the safety net
            log.exception("the OVSDB monitor stopped")
