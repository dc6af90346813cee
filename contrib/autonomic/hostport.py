"""The manager's port to the hosts, and its adapter to vdsm's wire (``rpc.client``).

One mutual-TLS connection per host, with the engine certificate from ``--pki`` (vdsm's layout:
``certs/enginecert.pem``, ``keys/enginekey.pem``, ``certs/cacert.pem``). The same connection
carries the calls and the host's events (``|net|host_conn|no_id`` triggers a reconcile).

A push is what the engine does: ``Host.setupNetworks`` and, while that call waits for its
connectivity check, ``Host.confirmConnectivity`` every half second over the same connection;
then ``Host.setSafeNetworkConfig``. Both carry a flow id starting with ``MANAGER_FLOW_PREFIX``
(``vdsm_net.cluster.keys``): the agent tells the manager's pushes from an engine's by it (the
two hold the same certificate), and records only the engine's. The synchronous client runs in a
thread pool as large as the manager's parallelism allows (``--parallel``), so a slow host never
holds up the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from rpc.client import Client, ClientError, ServerError
from rpc.tls.context import client_ssl_context
from vdsm_net.cluster.keys import MANAGER_FLOW_PREFIX

DRIFT_EVENT = "|net|host_conn|no_id"
CALL_TIMEOUT = 10.0
SETUP_TIMEOUT = 60.0  # besides the connectivity timeout
CONFIRM_EVERY = 0.5


class HostUnreachable(Exception):
    """The host could not be reached (connect, TLS, timeout or a lost connection)."""


class HostRefused(ServerError):
    """The host answered with vdsm's error code and message (``code``, ``message``)."""


EventSink = Callable[[str], None]
"""``sink(host_id)``: the host sent a drift/network event."""


class HostPort(Protocol):
    async def capabilities(self, host_id: str, address: str) -> dict[str, Any]: ...

    async def statistics(self, host_id: str, address: str) -> dict[str, Any]: ...

    async def setup(
        self, host_id: str, address: str, networks: Mapping[str, Any],
        bondings: Mapping[str, Any], options: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Push and confirm; the answer (``keptInUse`` ...). HostRefused or HostUnreachable."""
        ...

    async def set_safe(self, host_id: str, address: str) -> None: ...

    async def close(self) -> None: ...


def manager_flow() -> str:
    """A fresh flow id of the manager's (``ovirtCorrelationId``)."""
    return f"{MANAGER_FLOW_PREFIX}{uuid.uuid4()}"


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"not HOST:PORT: {address!r}")
    return host.strip("[]"), int(port)


class WireHosts:
    """HostPort over vdsm's wire; ``events`` gets the ids of hosts that sent an event."""

    def __init__(self, pki_dir: str | Path, parallel: int, events: EventSink | None = None,
                 timeout: float = CALL_TIMEOUT) -> None:
        self.pki_dir = pki_dir
        self.timeout = timeout
        self._context: ssl.SSLContext | None = None  # one for every host: a context per
        # connection cost a PEM load each and most of the manager's memory with 1000 hosts
        self._events = events
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(2, 2 * parallel), thread_name_prefix="host")
        self._clients: dict[str, tuple[str, Client]] = {}
        self._lock = threading.Lock()

    # -- the thread side ------------------------------------------------------------------
    def _client(self, host_id: str, address: str) -> Client:
        with self._lock:
            known = self._clients.get(host_id)
            if known is not None and known[0] == address:
                return known[1]
        host, port = split_address(address)
        with self._lock:
            if self._context is None:
                self._context = client_ssl_context(self.pki_dir)
            context = self._context
        client = Client.connect(host, port, ssl_context=context, timeout=self.timeout)
        if self._events is not None:
            sink = self._events
            client.subscribe_events(lambda method, _params: sink(host_id)
                                    if method == DRIFT_EVENT else None)
        with self._lock:
            old = self._clients.pop(host_id, None)
            self._clients[host_id] = (address, client)
        if old is not None:
            old[1].close()
        return client

    def _drop(self, host_id: str) -> None:
        with self._lock:
            old = self._clients.pop(host_id, None)
        if old is not None:
            old[1].close()

    def _call(self, host_id: str, address: str, work: Callable[[Client], Any],
              reconnect: bool = False) -> Any:
        """``work`` on the host's connection. With ``reconnect`` (reads only), a kept
        connection found closed (the agent restarted since) is replaced once at once."""
        with self._lock:
            kept = self._clients.get(host_id, ("", None))[0] == address
        try:
            return work(self._client(host_id, address))
        except ServerError as exc:
            raise HostRefused(exc.code, exc.message) from None
        except ClientError as exc:
            self._drop(host_id)
            if reconnect and kept:
                return self._call(host_id, address, work)
            raise HostUnreachable(f"{address}: {exc}") from None
        except (TimeoutError, OSError, ValueError) as exc:
            self._drop(host_id)
            raise HostUnreachable(f"{address}: {exc}") from None

    @staticmethod
    def _confirmed_setup(client: Client, params: dict[str, Any], timeout: float) -> Any:
        done = threading.Event()

        def confirm() -> None:
            while not done.wait(CONFIRM_EVERY):
                try:
                    client.call("Host.confirmConnectivity", timeout=CONFIRM_EVERY * 4)
                except (ServerError, ClientError, TimeoutError):
                    continue

        pinger = threading.Thread(target=confirm, name="confirm", daemon=True)
        pinger.start()
        try:
            return client.call("Host.setupNetworks", params, timeout=timeout,
                               flow_id=manager_flow())
        finally:
            done.set()
            pinger.join()

    # -- the port -------------------------------------------------------------------------
    async def _run(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def capabilities(self, host_id: str, address: str) -> dict[str, Any]:
        result = await self._run(lambda: self._call(
            host_id, address, lambda c: c.call("Host.getNetworkCapabilities"), reconnect=True))
        return dict(result or {})

    async def statistics(self, host_id: str, address: str) -> dict[str, Any]:
        result = await self._run(lambda: self._call(
            host_id, address, lambda c: c.call("Host.getNetworkStatistics"), reconnect=True))
        return dict(result or {})

    async def setup(
        self, host_id: str, address: str, networks: Mapping[str, Any],
        bondings: Mapping[str, Any], options: Mapping[str, Any],
    ) -> dict[str, Any]:
        params = {"networks": dict(networks), "bondings": dict(bondings),
                  "options": dict(options)}
        wait = SETUP_TIMEOUT + float(options.get("connectivityTimeout", 0))
        result = await self._run(lambda: self._call(
            host_id, address, lambda c: self._confirmed_setup(c, params, wait)))
        return dict(result or {})

    async def set_safe(self, host_id: str, address: str) -> None:
        await self._run(lambda: self._call(
            host_id, address, lambda c: c.call("Host.setSafeNetworkConfig",
                                               flow_id=manager_flow())))

    async def close(self) -> None:
        with self._lock:
            clients = [c for _, c in self._clients.values()]
            self._clients.clear()
        for client in clients:
            client.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
