"""Engine-follower mode, the host's half: what an engine made safe, and when it last applied.

An agent registered with ``--cluster`` writes ``safe/<hostid>`` when an engine commits
(``Host.setSafeNetworkConfig``, or a setupNetworks with ``commitOnSuccess``) and
``follow/<hostid>`` when an engine's setupNetworks applies (the key contract is
``vdsm_net.cluster.keys``). The manager's own calls carry a flow id with
``MANAGER_FLOW_PREFIX`` and write neither. The safe configuration is the agent's running config
in setupNetworks' vocabulary (every network and bond it owns, as the engine left them), so a
fullState setupNetworks of it rebuilds the host.

Nothing here can fail a verb: the verb's thread only hands the value to the event loop; a
background task writes the newest value per key, and when etcd cannot be reached logs that once
and retries (the next endpoint, a capped backoff) until it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.keys import Keys, is_manager_flow
from vdsm_net.model.desired import RunningConfig

log = logging.getLogger("vdsm-netd.cluster")

BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


def engine_request(running: RunningConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(networks, bondings)``: the setupNetworks request that reproduces ``running``."""
    networks = {name: net.to_wire() for name, net in sorted(running.networks.items())}
    bondings = {name: bond.to_wire() for name, bond in sorted(running.bonds.items())}
    return networks, bondings


class PutClient(Protocol):
    async def put(self, key: bytes, value: bytes) -> Any: ...
    async def close(self) -> None: ...


ClientFactory = Callable[[Endpoint], PutClient]


def _default_factory(endpoint: Endpoint) -> PutClient:
    from vdsm_net.cluster.etcd import make_client  # here: aetcd is optional (endpoints.py)

    client: PutClient = make_client(endpoint)
    return client


class FollowWriter:
    """Keeps ``safe/<hostid>`` and ``follow/<hostid>`` in etcd; ``committed`` and ``applied``
    are called from the verbs' threads and never raise."""

    def __init__(self, endpoints: list[Endpoint], keys: Keys, host_id: str, boot_id: str,
                 client_factory: ClientFactory = _default_factory) -> None:
        self.endpoints = endpoints
        self.boot_id = boot_id
        self._safe_key = keys.safe(host_id).encode()
        self._follow_key = keys.follow(host_id).encode()
        self._factory = client_factory
        self._next = 0
        self._client: PutClient | None = None
        self._pending: dict[bytes, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.failing = False  # etcd could not be written at the last try
        self.written = 0  # values written

    # -- the verbs' side (any thread) ------------------------------------------------------
    def applied(self, flow_id: str | None) -> None:
        """A setupNetworks applied; an engine's is recorded."""
        if not is_manager_flow(flow_id):
            self._submit(self._follow_key, {"bootId": self.boot_id, "appliedAt": time.time(),
                                            "flowId": flow_id})

    def committed(self, flow_id: str | None, safe: RunningConfig) -> None:
        """The running config became the safe point; an engine's commit is recorded."""
        if is_manager_flow(flow_id):
            return
        networks, bondings = engine_request(safe)
        self._submit(self._safe_key, {"networks": networks, "bondings": bondings,
                                      "bootId": self.boot_id, "savedAt": time.time()})

    def _submit(self, key: bytes, doc: dict[str, Any]) -> None:
        value = json.dumps(doc, sort_keys=True).encode()
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("%s not written: the writer is not running", key.decode())
            return
        loop.call_soon_threadsafe(self._queue, key, value)

    def _queue(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value
        self._wake.set()

    # -- the event loop's side -------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._loop = asyncio.get_running_loop()
        return self._loop.create_task(self.run())

    async def run(self) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            if not self._pending:
                self._wake.clear()
                await self._until(self._wake, None)
                continue
            try:
                await self._flush()
                backoff = BACKOFF_START
            except Exception as exc:  # etcd's errors, whatever the client raises
                await self._drop_client()
                self._failed(exc)
                await self._until(self._stop, backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)

    async def _until(self, event: asyncio.Event, timeout: float | None) -> None:
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stop.wait())]
        _, pending = await asyncio.wait(waits, timeout=timeout,
                                        return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _flush(self) -> None:
        if self._client is None:
            self._client = self._factory(self.endpoints[self._next % len(self.endpoints)])
        for key, value in list(self._pending.items()):
            await self._client.put(key, value)
            self.written += 1
            if self._pending.get(key) is value:  # not replaced meanwhile
                del self._pending[key]
        if self.failing:
            self.failing = False
            log.info("engine-follower records written to etcd again")

    def _failed(self, exc: BaseException) -> None:
        endpoint = self.endpoints[self._next % len(self.endpoints)]
        self._next += 1
        if not self.failing:
            self.failing = True
            log.warning("cannot write the engine's configuration to etcd at %s (%s: %s); "
                        "retrying in the background", endpoint, type(exc).__name__,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else "")

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def stop(self, task: asyncio.Task[None], flush_timeout: float = 2.0) -> None:
        """A clean stop: what is pending gets ``flush_timeout`` seconds, then the task ends."""
        if self._pending and not self.failing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush(), flush_timeout)
        self._stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._drop_client()
