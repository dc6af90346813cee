"""The netlink backend's own codec and batches on the real kernel: observe() against pyroute2's
decoding of the same kernel state (the oracle), batch failure semantics, undo of a half-done op,
and the engine's revert when a whole batch counts as attempted."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from tests.common.iproute import ip
from tests.common.parity_scenarios import SCENARIOS
from tests.common.pyroute2_socket import Pyroute2Socket
from tests.kernel import pyroute2_oracle as obs
from tests.kernel.conftest import NetlinkWorld
from tests.kernel.test_kernel_faults import fault_points, snapshot
from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.bondopts import read_bond_options
from vdsm_net.engine.engine import Engine
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import KernelState, Link


def _rich_state(ns: str) -> None:
    """Bond with ports, VLANs, bridges with options and a foreign port, v4/v6 addresses,
    routes in two tables, source rules: everything observe() reads."""
    for cmd in (
        "link add bond0 type bond mode active-backup miimon 100",
        "link set dummy_0 master bond0",
        "link set dummy_1 master bond0",
        "link set bond0 up",
        "link add link bond0 name bond0.7 type vlan id 7",
        "link set bond0.7 mtu 1400 alias vdsm-net:net=n7",
        "link add n7 type bridge stp_state 1 priority 7 mcast_hash_max 512 vlan_protocol 802.1ad",
        "link set bond0.7 master n7",
        "link set veth_0 master n7",
        "link set n7 up",
        "link set bond0.7 up",
        "link set dummy_2 address 02:00:00:00:00:22 up",
        "addr add 192.0.2.10/24 dev n7",
        "addr add 2001:db8::10/64 dev n7 nodad",
        "addr add 198.51.100.2/25 dev dummy_2",
        "route add 203.0.113.0/24 via 192.0.2.1 dev n7",
        "route add default via 192.0.2.1 dev n7 table 1000",
        "route add 192.0.2.0/24 dev n7 table 1000",
        "-6 route add 2001:db8:1::/64 via 2001:db8::1 dev n7",
        "rule add from 192.0.2.0/24 table 1000 priority 3200",
        "rule add to 192.0.2.0/24 table 1000 priority 3201",
        "-6 rule add from 2001:db8::/64 table 1000 priority 3200",
    ):
        ip("-n", ns, *cmd.split())


def _pyroute2_state(ns: str, sysfs: Any) -> KernelState:
    with Pyroute2Socket(ns) as pyroute2:
        links, addrs, routes, rules = pyroute2.call(lambda ipr: (
            list(ipr.get_links()), list(ipr.get_addr()), list(ipr.get_routes(family=2))
            + list(ipr.get_routes(family=10)), list(ipr.get_rules(family=2))
            + list(ipr.get_rules(family=10))))
    names = {m["index"]: m.get("IFLA_IFNAME") for m in links}
    return KernelState(
        links=obs.parse_links(links, lambda bond: read_bond_options(sysfs, bond)),
        addresses=obs.parse_addresses(addrs, names),
        routes=obs.parse_routes(routes, names),
        rules=obs.parse_rules(rules),
    )


def _facts(link: Link) -> dict[str, Any]:
    """Every field, planned or observed, but the counters (traffic moves them)."""
    out = dataclasses.asdict(link)
    out.pop("stats")
    return out


def test_observe_matches_pyroute2_decoding(backend: NetlinkBackend, nics_ns: str) -> None:
    _rich_state(nics_ns)
    ours = backend.observe()
    oracle = _pyroute2_state(nics_ns, backend._sysfs)
    assert {n: _facts(lk) for n, lk in ours.links.items()} == {
        n: _facts(lk) for n, lk in oracle.links.items()}
    assert (ours.addresses, ours.routes, ours.rules) == (
        oracle.addresses, oracle.routes, oracle.rules)
    # and the state is the rich one, not two empty ones
    n7 = ours.links["n7"]
    assert n7.stp and ("priority", "7") in n7.bridge_opts and ("hash_max", "512") in n7.bridge_opts
    assert ours.links["bond0.7"].tag == "vdsm-net:net=n7" and ours.links["bond0.7"].vlan_id == 7
    assert ours.links["dummy_0"].perm_mac and ours.links["bond0"].active_slave == "dummy_0"
    assert len(ours.routes) == 4 and len(ours.rules) == 3 and len(ours.addresses) == 3
    assert all(lk.stats is not None for lk in ours.links.values())


def test_no_linklocal_learn_and_vlan_stats_per_port_round_trip(backend: NetlinkBackend) -> None:
    # netlink carries no_linklocal_learn only as a bit of IFLA_BR_MULTI_BOOLOPT
    opts = (("no_linklocal_learn", "1"), ("vlan_stats_per_port", "1"))
    backend.apply(o.CreateLink(Link("br1", "bridge", bridge_opts=opts)))
    assert backend.observe().links["br1"].bridge_opts == opts
    assert (backend._sysfs / "br1" / "bridge" / "no_linklocal_learn").read_text().strip() == "1"
    backend.apply(o.SetBridge("br1", bridge_opts=(("priority", "9"),)))
    assert backend.observe().links["br1"].bridge_opts == (("priority", "9"),)


def test_a_refused_op_in_a_batch_is_named_and_ends_the_count(backend: NetlinkBackend) -> None:
    backend.observe()  # every name known: the three ops go in one sendmsg
    before = backend.writes
    bad = Link("dummy_1.5", "vlan", mtu=9000, vlan_id=5, vlan_base="dummy_1")  # over its base
    ops = [o.SetMtu("dummy_0", mtu=2000), o.CreateLink(bad), o.SetMtu("dummy_2", mtu=2100)]
    with pytest.raises(KernelError) as err:
        backend.apply_batch(ops)
    assert err.value.op == "create_link" and "dummy_1.5" in str(err.value)
    assert backend.writes - before == 1
    links = backend.observe().links
    assert links["dummy_0"].mtu == 2000 and "dummy_1.5" not in links
    assert links["dummy_2"].mtu == 2100  # the kernel ran the rest of the sendmsg anyway


def test_a_failed_enslave_puts_the_downed_port_back_up(backend: NetlinkBackend) -> None:
    backend.apply(o.CreateLink(Link("bond0", "bond", bond_options=(("mode", "1"),))))
    backend.apply(o.SetUp("bond0"))
    with pytest.raises(KernelError) as err:
        backend.apply(o.SetMaster("bond0", master="bond0"))  # downed first, then refused
    assert str(err.value).startswith("set_master: bond0 -> bond0: ")
    assert backend.observe().links["bond0"].up


def test_an_up_port_is_enslaved_to_a_bond(backend: NetlinkBackend) -> None:
    backend.apply_batch([
        o.CreateLink(Link("bond0", "bond", bond_options=(("mode", "1"),))),
        o.SetUp("dummy_0"),
        o.SetMaster("dummy_0", master="bond0"),  # bond0's index is learnt mid-batch
        o.CreateLink(Link("br0", "bridge")),
        o.SetMaster("bond0", master="br0"),
    ])
    links = backend.observe().links
    assert links["dummy_0"].master == "bond0" and links["bond0"].master == "br0"


class BatchFailAt:
    """A test-only proxy with the batch port: the ``k``-th op of the first batch is refused,
    and, as the kernel does within one sendmsg, every other op of that batch still runs."""

    def __init__(self, inner: NetlinkBackend, k: int) -> None:
        self.inner = inner
        self.k = k
        self.fired: o.Op | None = None

    def observe(self, stats: bool = True) -> KernelState:
        return self.inner.observe(stats)

    def nic_facts(self, name: str) -> NicFacts:
        return self.inner.nic_facts(name)

    def apply(self, op: o.Op) -> None:
        self.inner.apply(op)

    def apply_batch(self, ops: Sequence[o.Op]) -> None:
        if self.fired is not None or self.k >= len(ops):
            self.inner.apply_batch(ops)
            return
        self.fired = ops[self.k]
        for op in [*ops[: self.k], *ops[self.k + 1:]]:
            # a request after a refused one may fail too (its link is missing)
            with contextlib.suppress(KernelError):
                self.inner.apply(op)
        raise KernelError(self.fired.kind, "injected fault in a batch")


@pytest.mark.parametrize("name", ["bridged_vlan_on_bond", "jumbo_bond_vlan_bridge",
                                  "static_v4_v6_default_route_and_source_routing"])
def test_a_batch_failure_reverts_to_the_pre_call_state(real: NetlinkWorld, name: str) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    engine = Engine(real.netlink)
    points = 0
    for step in scenario.steps:
        for action in step.before:
            real.foreign(action)
        if step.error is None:
            forced = {b.name for b in engine.running.bonds.values() if b.hwaddr}
            pre = snapshot(real.netlink.observe(), forced)
            plan = engine.plan(*step.request())
            for k in fault_points(len(plan)):
                proxy = BatchFailAt(real.netlink, k)
                engine.backend = proxy
                try:
                    with pytest.raises(KernelError, match="injected fault in a batch"):
                        engine.setup(*step.request())
                finally:
                    engine.backend = real.netlink
                assert snapshot(real.netlink.observe(), forced) == pre, (k, proxy.fired)
                points += 1
        try:
            engine.setup(*step.request())
        except Exception as exc:
            assert step.error is not None and getattr(exc, "code", None) == step.error
    assert points >= 3
