"""Addresses, routes (all tables) and rules through the netlink backend; what observe() skips."""

from __future__ import annotations

import pytest

from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.model import ops as o
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import Address, Route, Rule


def _up(backend: NetlinkBackend, name: str) -> None:
    backend.apply(o.SetUp(name, up=True))


def test_addresses_v4_v6_round_trip(backend: NetlinkBackend) -> None:
    _up(backend, "dummy_0")
    v4 = Address("dummy_0", "192.0.2.10/24")
    v6 = Address("dummy_0", "2001:db8::10/64")
    backend.apply(o.AddAddress(v4))
    backend.apply(o.AddAddress(v6))
    state = backend.observe()
    assert state.addresses_of("dummy_0") == sorted([v4, v6])  # no fe80:: link-local
    backend.apply(o.DelAddress(v4))
    assert backend.observe().addresses_of("dummy_0") == [v6]


def test_duplicate_address_is_a_kernel_error(backend: NetlinkBackend) -> None:
    address = Address("dummy_0", "192.0.2.10/24")
    backend.apply(o.AddAddress(address))
    with pytest.raises(KernelError) as err:
        backend.apply(o.AddAddress(address))
    assert str(err.value) == "add_address: 192.0.2.10/24 on dummy_0: File exists"


def test_routes_in_main_and_source_table(backend: NetlinkBackend) -> None:
    _up(backend, "dummy_0")
    _up(backend, "dummy_1")
    backend.apply(o.AddAddress(Address("dummy_0", "192.0.2.10/24")))
    backend.apply(o.AddAddress(Address("dummy_1", "2001:db8:1::10/64")))
    routes = [
        Route("0.0.0.0/0", "dummy_0", "192.0.2.1"),
        Route("192.0.2.0/24", "dummy_0", None, 3232235530, scope_link=True),
        Route("0.0.0.0/0", "dummy_0", "192.0.2.1", 3232235530),
        Route("::/0", "dummy_1", "2001:db8:1::1"),
        Route("2001:db8:1::/64", "dummy_1", None, 100, scope_link=True),
    ]
    for route in routes:
        backend.apply(o.AddRoute(route))
    # kernel-made subnet routes, the local table and IPv6 multicast are not observed
    assert backend.observe().routes == frozenset(routes)
    backend.apply(o.DelRoute(routes[0]))
    assert backend.observe().routes == frozenset(routes[1:])


def test_route_without_its_link_names_the_route(backend: NetlinkBackend) -> None:
    route = Route("198.51.100.0/24", "dummy_2", "192.0.2.1")
    with pytest.raises(KernelError) as err:
        backend.apply(o.AddRoute(route))  # dummy_2 is down with no address: no way there
    assert "198.51.100.0/24 via 192.0.2.1 dev dummy_2 table 254" in str(err.value)


def test_rules_round_trip_and_defaults_are_skipped(backend: NetlinkBackend) -> None:
    rules = [
        Rule(3200, 3232235530, src="192.0.2.0/24"),
        Rule(3200, 3232235530, dst="192.0.2.0/24"),
        Rule(3201, 100, src="2001:db8:1::/64"),
    ]
    for rule in rules:
        backend.apply(o.AddRule(rule))
    assert backend.observe().rules == frozenset(rules)
    backend.apply(o.DelRule(rules[0]))
    assert backend.observe().rules == frozenset(rules[1:])


def test_blackhole_and_foreign_tables_are_observed_only_when_they_have_a_link(
    backend: NetlinkBackend, nics_ns: str
) -> None:
    ip("-n", nics_ns, "route", "add", "blackhole", "203.0.113.0/24")
    ip("-n", nics_ns, "link", "set", "dummy_2", "up")
    ip("-n", nics_ns, "route", "add", "203.0.114.0/24", "dev", "dummy_2", "table", "77")
    assert backend.observe().routes == {Route("203.0.114.0/24", "dummy_2", None, 77, True)}
