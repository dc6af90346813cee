"""vdsm's verbs, bound to the engine, with vdsm's result shapes and error codes on the wire."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from vdsm_net.caps import network_caps
from vdsm_net.engine import Engine
from vdsm_net.errors import ERR_UNAVAILABLE, NetworkError
from vdsm_net.kernel import KernelState
from vdsm_net.ops import plan_to_json
from vdsm_net.resolv import host_nameservers

log = logging.getLogger(__name__)

DONE = {"code": 0, "message": "Done"}
HOST_CONN_EVENT = "|net|host_conn|no_id"

Register = Callable[[str, Callable[..., Any]], None]
Publish = Callable[[str, dict[str, Any]], None]


class Connectivity:
    """What ``Host.confirmConnectivity`` and ``Host.ping`` prove: a client reached us.

    ``wait`` returns as soon as a confirmation newer than ``since`` arrives (vdsm polls on a
    1 s grid; we do not), or False when ``timeout`` seconds pass. It runs in the setup's own
    worker thread, so it fires whether or not the calling connection is still there.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._last = 0.0

    def confirm(self) -> None:
        with self._cond:
            self._last = time.time()
            self._cond.notify_all()

    def wait(self, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while self._last <= since:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


class HostApi:
    def __init__(self, engine: Engine, publish: Publish | None = None) -> None:
        self.engine = engine
        self.connectivity = Connectivity()
        self._publish = publish
        self._busy = threading.Lock()  # setupNetworks and setSafeNetworkConfig: 40 when held
        self.net_config_dirty = False

    def register(self, register: Register) -> None:
        register("Host.ping", self.ping)
        register("Host.ping2", self.ping2)
        register("Host.confirmConnectivity", self.confirm_connectivity)
        register("Host.setupNetworks", self.setup_networks)
        register("Host.setSafeNetworkConfig", self.set_safe_network_config)
        register("Host.planNetworks", self.plan_networks)
        register("Host.getNetworkCapabilities", self.get_network_capabilities)
        register("Host.getCapabilities", self.get_capabilities)

    # -- liveness --------------------------------------------------------------------------
    def ping(self) -> bool:
        self.connectivity.confirm()
        return True

    def ping2(self) -> bool:
        return True

    def confirm_connectivity(self) -> bool:
        self.connectivity.confirm()
        return True

    # -- configuration ---------------------------------------------------------------------
    def _exclusive(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise NetworkError(ERR_UNAVAILABLE, "Resource unavailable")

    def setup_networks(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        self._exclusive()
        try:
            self.net_config_dirty = True
            result = self.engine.setup(
                networks or {}, bondings or {}, options or {}, confirm=self.connectivity.wait
            )
            if result.committed:
                self.net_config_dirty = False
            if result.changed:
                self.emit_host_conn()
            out = dict(DONE)
            if result.kept_in_use:
                out["keptInUse"] = result.kept_in_use
            return out
        finally:
            self._busy.release()

    def set_safe_network_config(self) -> bool:
        self._exclusive()
        try:
            self.engine.set_safe()
            self.net_config_dirty = False
            return True
        finally:
            self._busy.release()

    def plan_networks(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """Extension: the ordered plan ``setupNetworks`` would apply, applying nothing."""
        plan = self.engine.plan(networks or {}, bondings or {}, options or {})
        return {"plan": plan_to_json(plan)}

    # -- reports ---------------------------------------------------------------------------
    def _network_caps(self, state: KernelState) -> dict[str, Any]:
        return network_caps(
            state, self.engine.running, self.engine.backend.nic_facts,
            host_nameservers(), self.net_config_dirty,
        )

    def get_network_capabilities(self) -> dict[str, Any]:
        return self._network_caps(self.engine.backend.observe())

    def get_capabilities(self, _ctx: Any = None) -> dict[str, Any]:
        state = self.engine.backend.observe()
        caps = self._network_caps(state)
        caps["lastClientIface"] = last_client_iface(state, _ctx)
        return caps

    # -- events ----------------------------------------------------------------------------
    def emit_host_conn(self) -> None:
        if self._publish is not None:
            try:
                self._publish(HOST_CONN_EVENT, {})
            except Exception:  # an event must never fail a verb
                log.exception("could not publish %s", HOST_CONN_EVENT)


def last_client_iface(state: KernelState, ctx: Any) -> str:
    """The local device that holds the address the client connected to; '' if none."""
    local = getattr(ctx, "local_address", None)
    if not local:
        return ""
    ip = str(local[0]).removeprefix("::ffff:")
    for addr in sorted(state.addresses):
        if addr.address.split("/")[0] == ip:
            return addr.ifname
    return ""
