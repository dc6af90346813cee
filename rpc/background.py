"""Run a :class:`StompServer` on its own event loop in a thread (tests, benchmarks, tools)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from rpc.server import StompServer


class BackgroundServer:
    """``with BackgroundServer(server) as bg: bg.port`` serves until the block ends."""

    def __init__(self, server: StompServer, start_timeout: float = 30.0) -> None:
        self.server = server
        self.start_timeout = start_timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="rpc-server", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> BackgroundServer:
        self._thread.start()
        if not self._started.wait(self.start_timeout):
            raise TimeoutError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the server's loop."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
