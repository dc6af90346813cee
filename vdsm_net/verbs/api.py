"""vdsm's verbs, bound to the engine, with vdsm's result shapes and error codes on the wire."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from rpc.jsonrpc import INVALID_PARAMS, CallContext, RpcError, error_message
from vdsm_net.drift.monitor import CAPS_KEY as DRIFT_CAPS_KEY
from vdsm_net.drift.monitor import DriftMonitor
from vdsm_net.dynamic.dhcp import DhcpManager
from vdsm_net.dynamic.dns import Nameservers
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.engine.canonicalize import blocking_dhcp
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine, OnApplied, SetupResult
from vdsm_net.engine.validate import visible_nics
from vdsm_net.lldp.receiver import LldpReceiver
from vdsm_net.lldp.tlv import LldpReport
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.errors import ERR_HOOK, ERR_UNAVAILABLE, NetworkError
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import plan_to_json
from vdsm_net.verbs.caps import network_caps
from vdsm_net.verbs.hooks import (
    AFTER_NETWORK_SETUP,
    AFTER_NETWORK_SETUP_FAIL,
    BEFORE_NETWORK_SETUP,
    HookError,
    Hooks,
    network_setup_data,
    request_of,
)
from vdsm_net.verbs.hostinfo import HostInfo
from vdsm_net.verbs.lldp import get_lldp
from vdsm_net.verbs.shapes import (
    Caps,
    CheckReport,
    HostStats,
    NetworkCaps,
    NetworkStatistics,
    Plan,
    SetupDone,
)
from vdsm_net.verbs.stats import host_stats, network_statistics

log = logging.getLogger(__name__)

HOST_CONN_EVENT = "|net|host_conn|no_id"


class Register(Protocol):
    """How verbs are registered (rpc.jsonrpc.Dispatcher.register): ``context=True`` passes the
    caller's CallContext as the verb's first argument."""

    def __call__(self, name: str, fn: Callable[..., Any], *, context: bool = False) -> None: ...


Publish = Callable[[str, dict[str, Any]], None]


class Follow(Protocol):
    """Hears of configuration calls with their flow id (vdsm_net.cluster.follow: the engine's
    are recorded in etcd); must never raise."""

    def applied(self, flow_id: str | None) -> None: ...

    def committed(self, flow_id: str | None, safe: RunningConfig) -> None: ...


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


BLOCKING_DHCP_TIMEOUT = 60.0


class HostApi:
    """vdsm's Host verbs over one engine: their parameters, result shapes (``verbs.schema``)
    and error codes. ``register`` hands each verb to the dispatcher. setupNetworks runs the
    hooks around the engine, starts what follows the applied config (DHCP, SLAAC, nameservers)
    before the connectivity check, and publishes ``|net|host_conn|no_id`` when it changed
    something; one configuration call at a time (another gets code 40)."""

    def __init__(
        self,
        engine: Engine,
        publish: Publish | None = None,
        hooks: Hooks | None = None,
        host: HostInfo | None = None,
        dhcp: DhcpManager | None = None,
        nameservers: Nameservers | None = None,
        drift: DriftMonitor | None = None,
        lldp: LldpReceiver | None = None,
        follow: Follow | None = None,
    ) -> None:
        self.engine = engine
        self.follow = follow  # engine-follower records (an agent registered with --cluster)
        self.connectivity = Connectivity()
        self._publish = publish
        self.hooks = hooks or Hooks(None)
        self.host = host or HostInfo()
        self._busy = threading.Lock()  # setupNetworks and setSafeNetworkConfig: 40 when held
        self.net_config_dirty = False
        self.drift = drift  # the drift monitor (--drift report|enforce); its report is in caps
        self.dhcp = dhcp  # DHCP clients and SLAAC start inside every setup, before its check
        self.nameservers = nameservers or Nameservers()
        self.lldp = lldp  # receive-only LLDP on the NICs; None: every device enabled: false

    def register(self, register: Register) -> None:
        register("Host.ping", self.ping)
        register("Host.ping2", self.ping2)
        register("Host.confirmConnectivity", self.confirm_connectivity)
        register("Host.setupNetworks", self.setup_networks_call, context=True)
        register("Host.setSafeNetworkConfig", self.set_safe_network_config_call, context=True)
        register("Host.planNetworks", self.plan_networks)
        register("Host.checkNetworks", self.check_networks)
        register("Host.getNetworkCapabilities", self.get_network_capabilities)
        register("Host.getCapabilities", self.get_capabilities, context=True)
        register("Host.getStats", self.get_stats)
        register("Host.getNetworkStatistics", self.get_network_statistics)
        register("Host.getLldp", self.get_lldp)

    # -- liveness --------------------------------------------------------------------------
    def ping(self) -> Literal[True]:
        self.connectivity.confirm()
        return True

    def ping2(self) -> Literal[True]:
        return True

    def confirm_connectivity(self) -> Literal[True]:
        self.connectivity.confirm()
        return True

    # -- configuration ---------------------------------------------------------------------
    def _exclusive(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise NetworkError(ERR_UNAVAILABLE, "Resource unavailable")

    def setup_networks(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> SetupDone:
        return self._setup_networks(None, networks, bondings, options)

    def setup_networks_call(
        self, ctx: CallContext, networks: dict[str, Any], bondings: dict[str, Any],
        options: dict[str, Any],
    ) -> SetupDone:
        """The wire's setupNetworks: the caller's flow id goes to ``follow``."""
        return self._setup_networks(ctx.flow_id, networks, bondings, options)

    def _setup_networks(
        self, flow_id: str | None, networks: dict[str, Any], bondings: dict[str, Any],
        options: dict[str, Any],
    ) -> SetupDone:
        networks, bondings, options = _request_params(networks, bondings, options)
        self._exclusive()
        try:
            self.net_config_dirty = True  # even when the call then fails (vdsm-wire §4.7)
            result = self._setup_with_hooks(networks, bondings, options)
            if result.committed:
                self.net_config_dirty = False
            if self.follow is not None:
                self.follow.applied(flow_id)
                if result.committed:
                    self.follow.committed(flow_id, self.engine.safe)
            if result.changed:
                self.emit_host_conn()
            out: SetupDone = {"code": 0, "message": "Done"}
            if result.kept_in_use:
                out["keptInUse"] = result.kept_in_use
            return out
        finally:
            self._busy.release()

    def _on_applied(self, networks: dict[str, Any]) -> OnApplied | None:
        """The engine's ``on_applied`` step for one request: DHCP clients, SLAAC and
        nameservers follow the applied config before the connectivity check, so a client can
        confirm over a fresh lease; on a revert the previous config's are restored (no wait)."""
        if self.dhcp is None:  # the simulated kernel: no clients, the host's DNS untouched
            return None
        dhcp = self.dhcp
        blocking = blocking_dhcp(networks)
        previous = self.engine.running

        def on_applied(config: RunningConfig) -> bool:
            wait = blocking if config is not previous else []
            touches = dhcp.kernel_touches
            if not dhcp.apply(config, wait, BLOCKING_DHCP_TIMEOUT):
                log.warning("blockingdhcp: no lease for %s within %s s", wait,
                            BLOCKING_DHCP_TIMEOUT)
            self.nameservers.update(config, dhcp.leases())
            return dhcp.kernel_touches != touches  # False: nothing for the engine to look for

        return on_applied

    def lease_changed(self) -> None:
        """A new or changed lease (the DHCP monitor): its DNS where the policy wants it, and
        ``|net|host_conn|no_id`` as vdsm's DHCP monitor sends."""
        if self.dhcp is not None:
            try:
                self.nameservers.update(self.engine.running, self.dhcp.leases())
            except Exception:
                log.exception("nameservers after a lease change")
        self.emit_host_conn()

    def _setup_with_hooks(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> SetupResult:
        """vdsm's hook points around the engine. The before-hooks see the canonical, validated
        request; what they leave is canonicalized and validated again by ``engine.setup``
        (vdsm trusts it). The after-hooks see the request before any hook changed it."""
        data = network_setup_data(networks, bondings, options)
        before = self.hooks.scripts(BEFORE_NETWORK_SETUP)
        try:
            if before or self.hooks.scripts(AFTER_NETWORK_SETUP):
                data = self._canonical_data(networks, bondings, options)
            request = (networks, bondings, options)
            if before:
                try:
                    out = self.hooks.run(BEFORE_NETWORK_SETUP, copy.deepcopy(data), True)
                    request = request_of(out)
                except HookError as exc:
                    raise NetworkError(ERR_HOOK, f"Hook error: {exc}") from exc
            result = self.engine.setup(*request, confirm=self.connectivity.wait,
                                       on_applied=self._on_applied(request[0]))
        except BaseException:
            self._run_quietly(AFTER_NETWORK_SETUP_FAIL, data)
            raise
        self._run_quietly(AFTER_NETWORK_SETUP, data)
        return result

    def _canonical_data(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """The hook data of a request after canonicalization and validation (raises if invalid)."""
        request = self.engine.prepare(networks, bondings, options).request
        nets = {
            name: net.to_wire() if net is not None else {"remove": True}
            for name, net in request.networks.items()
        }
        bonds = {
            name: bond.to_wire() if bond is not None else {"remove": True}
            for name, bond in request.bondings.items()
        }
        return network_setup_data(nets, bonds, dict(options))

    def _run_quietly(self, hook: str, data: dict[str, Any]) -> None:
        """After-hooks never fail the call."""
        try:
            self.hooks.run(hook, copy.deepcopy(data), False)
        except Exception:
            log.exception("%s hooks failed", hook)

    def set_safe_network_config(self, flow_id: str | None = None) -> Literal[True]:
        self._exclusive()
        try:
            self.engine.set_safe()
            self.net_config_dirty = False
            if self.follow is not None:
                self.follow.committed(flow_id, self.engine.safe)
            return True
        finally:
            self._busy.release()

    def set_safe_network_config_call(self, ctx: CallContext) -> Literal[True]:
        return self.set_safe_network_config(ctx.flow_id)

    def plan_networks(
        self, networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
    ) -> Plan:
        """Extension: the ordered plan ``setupNetworks`` would apply, applying nothing."""
        plan = self.engine.plan(*_request_params(networks, bondings, options))
        return {"plan": plan_to_json(plan)}

    def check_networks(self) -> CheckReport:
        """Extension: the running config against the kernel, by the engine's comparator. One
        line per differing attribute; an empty list when they match."""
        snap = self.engine.snapshot()
        assert snap is not None  # a blocking snapshot always returns
        running, observed = snap
        return {"differences": compare(running, observed),
                "networks": sorted(running.networks)}

    # -- reports ---------------------------------------------------------------------------
    def _network_caps(self, state: KernelState) -> NetworkCaps:
        caps = network_caps(
            state, self.engine.running, self.engine.backend.nic_facts,
            host_nameservers(), self.net_config_dirty,
        )
        if self.drift is not None:  # extension: what differs from the engine's picture
            caps[DRIFT_CAPS_KEY] = self.drift.report.to_wire()
        return caps

    # the capabilities report no counters: the kernel leaves them out of the dump
    def get_network_capabilities(self) -> NetworkCaps:
        return self._network_caps(self.engine.backend.observe(stats=False))

    def get_capabilities(self, ctx: CallContext | None = None) -> Caps:
        state = self.engine.backend.observe(stats=False)
        return {**self.host.capabilities(), **self._network_caps(state),
                "hooks": self.hooks.inventory(),
                "lastClientIface": last_client_iface(state, ctx)}

    def get_network_statistics(self) -> NetworkStatistics:
        """Per-link counters and the drop totals, which, unlike vdsm's, are not swapped."""
        return network_statistics(self.engine.backend.observe(), self.engine.backend.nic_facts)

    def get_stats(self) -> HostStats:
        """The network part of vdsm's HostStats: the network map, string totals, dirtiness."""
        return host_stats(
            self.engine.backend.observe(), self.engine.backend.nic_facts, self.net_config_dirty
        )

    def get_lldp(self, filter: Any = None) -> LldpReport:
        """LLDP TLVs per device, receive only (all NICs when no devices are named)."""
        state = self.engine.backend.observe(stats=False)
        return get_lldp(self.lldp, visible_nics(state), filter)

    # -- events ----------------------------------------------------------------------------
    def emit_host_conn(self) -> None:
        emit_host_conn(self._publish)


def emit_host_conn(publish: Publish | None) -> None:
    """``|net|host_conn|no_id``: the engine should re-read the capabilities."""
    if publish is not None:
        try:
            publish(HOST_CONN_EVENT, {})
        except Exception:  # an event must never fail a verb
            log.exception("could not publish %s", HOST_CONN_EVENT)


def _request_params(
    networks: Any, bondings: Any, options: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """setupNetworks' three maps; null means empty, any other non-object is -32602."""
    out = []
    for name, value in (("networks", networks), ("bondings", bondings), ("options", options)):
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise RpcError(INVALID_PARAMS, error_message(
                INVALID_PARAMS, {name: f"expected an object, got {type(value).__name__}"}))
        out.append(value)
    return out[0], out[1], out[2]


def last_client_iface(state: KernelState, ctx: CallContext | None) -> str:
    """The local device that holds the address the client connected to; '' if none."""
    local = ctx.local_address if ctx is not None else None
    if not local:
        return ""
    ip = str(local[0]).removeprefix("::ffff:")
    for addr in sorted(state.addresses):
        if addr.address.split("/")[0] == ip:
            return addr.ifname
    return ""
