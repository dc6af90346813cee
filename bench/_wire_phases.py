"""Where the agent's time goes, measured in this process without the wire (same boot, same
kernel work): ``Engine.setup`` alone, then ``HostApi.setup_networks`` (verb layer, hooks lookup,
DHCP manager and nameservers as the agent builds them); and the pieces of getCapabilities on the
agent's namespace (one observe, the verb's dict, its JSON encoding)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from bench._kernel_work import fresh_netns, ip, removal, request
from bench._wire_proc import thread_cpu_seconds
from bench.bench_kernel import timed
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.monitor import NetlinkMonitor
from vdsm_net.dynamic.dhcp import DhcpManager
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.caps import network_caps

ENGINE_OPTIONS = {"connectivityCheck": False}
WIRE_OPTIONS = {"connectivityCheck": "false"}  # as the engine sends it


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def setup_phases(n: int, dhcp_run_dir: str) -> dict[str, float]:
    """In a fresh netns: create and remove by the engine alone, then by the verb layer."""
    ns = f"bench_p{n}"
    fresh_netns(ns)
    backend = NetlinkBackend(ns)
    out: dict[str, float] = {}
    try:
        nets, bonds = request(n)
        gone_nets, gone_bonds = removal(n)
        engine = Engine(backend, host_nameservers=host_nameservers)
        out["engine_create"] = timed(lambda: engine.setup(nets, bonds, ENGINE_OPTIONS))
        out["engine_remove"] = timed(lambda: engine.setup(gone_nets, gone_bonds, ENGINE_OPTIONS))
        dhcp = DhcpManager(dhcp_run_dir, netns=ns)
        api = HostApi(Engine(backend, host_nameservers=host_nameservers), dhcp=dhcp)
        try:
            out["api_create"] = timed(lambda: api.setup_networks(nets, bonds, WIRE_OPTIONS))
            out["api_remove"] = timed(
                lambda: api.setup_networks(gone_nets, gone_bonds, WIRE_OPTIONS))
        finally:
            dhcp.close()
    finally:
        backend.close()
        ip("netns", "del", ns)
    return out


def caps_phases(ns: str, repeat: int) -> dict[str, float]:
    """Medians on the namespace as it is (the agent's, networks in place): one observe(),
    the network part of the caps from that observation, the host part, the whole
    getCapabilities verb, json.dumps of its answer and the client's json.loads of it; the
    answer's size in bytes."""
    backend = NetlinkBackend(ns)
    try:
        api = HostApi(Engine(backend, running=adopt(backend.observe()),
                             host_nameservers=host_nameservers))
        caps = api.get_capabilities()
        body = json.dumps(caps)
        state = backend.observe()
        running = api.engine.running
        return {
            "observe": median_time(backend.observe, repeat),
            "network_caps": median_time(lambda: network_caps(
                state, running, backend.nic_facts, host_nameservers(), False), repeat),
            "host": median_time(api.host.capabilities, repeat),
            "verb": median_time(api.get_capabilities, repeat),
            "json": median_time(lambda: json.dumps(caps), repeat),
            "loads": median_time(lambda: json.loads(body), repeat),
            "bytes": float(len(body)),
        }
    finally:
        backend.close()


def drift_phases(n: int, repeat: int) -> dict[str, float]:
    """What the agent's default ``--drift report`` costs around one create of N networks: the
    netlink events its monitor thread receives and that thread's CPU (pyroute2 decodes every
    message), and one drift compare (an observe plus ``drift.compare``) with N networks."""
    ns = f"bench_d{n}"
    fresh_netns(ns)
    backend = NetlinkBackend(ns)
    monitor = NetlinkMonitor(lambda _names: None, ns).start()
    try:
        engine = Engine(backend, host_nameservers=host_nameservers)
        tid = monitor._thread.native_id  # a diagnostic read of the private thread
        assert tid is not None
        cpu0 = thread_cpu_seconds(tid)
        engine.setup(*request(n), ENGINE_OPTIONS)
        seen = -1
        while seen != monitor.events:  # drained: no new event for 0.5 s
            seen = monitor.events
            time.sleep(0.5)
        out = {"events": float(monitor.events), "monitor_cpu": thread_cpu_seconds(tid) - cpu0}
        out["compare"] = median_time(lambda: compare(engine.running, backend.observe()), repeat)
        engine.setup(*removal(n), ENGINE_OPTIONS)
        return out
    finally:
        monitor.stop()
        backend.close()
        ip("netns", "del", ns)
