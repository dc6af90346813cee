"""The parity scenarios (issue 3, item 4): setupNetworks steps that run unchanged on the simulated
kernel (unit tier) and on the netlink backend in a fresh namespace inside UML (kernel tier).

A scenario is a list of steps. A step may first change the kernel behind the agent's back
(``Foreign`` actions), then sends one setupNetworks request (raw engine-style dicts), and either
expects success or a vdsm error code, after which nothing may have changed. ``expect`` holds
facts about the result that must hold on every backend; the parity runner (``parity_runner``)
also compares the two backends' states after every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from vdsm_net.engine.render import source_table
from vdsm_net.model.kernel import MAIN_TABLE, SOURCE_RULE_PRIORITY, KernelState, Route, Rule

NICS = ("dummy_0", "dummy_1", "dummy_2", "veth_0", "veth_0p")
"""The NICs of every scenario: the kernel tier's conftest makes exactly these."""

NO_CHECK = {"connectivityCheck": False}


@dataclass(frozen=True)
class Foreign:
    """A change made behind the agent's back, by an admin or a VM manager.

    - ``bridge``: an unowned, down bridge called ``name``;
    - ``delete``: delete link ``name``;
    - ``nomaster``: release ``name`` from its master;
    - ``tap``: a veth pair ``name``/``name``+"p", both up, ``name`` a port of ``master``.
    """

    action: Literal["bridge", "delete", "nomaster", "tap"]
    name: str
    master: str | None = None

    @property
    def links(self) -> tuple[str, ...]:
        return (self.name, self.name + "p") if self.action == "tap" else (self.name,)


@dataclass(frozen=True)
class Expect:
    what: str
    holds: Callable[[KernelState], bool]


@dataclass(frozen=True)
class Step:
    networks: dict[str, Any] = field(default_factory=dict)
    bondings: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    before: tuple[Foreign, ...] = ()
    error: int | None = None  # the vdsm code the request must fail with; nothing changes
    expect: tuple[Expect, ...] = ()

    def request(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return self.networks, self.bondings, {**NO_CHECK, **self.options}

    def again(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The request to re-plan for idempotence: the same, minus what it removed (removing
        something absent is an error, not a no-op)."""
        nets = {n: a for n, a in self.networks.items() if not a.get("remove")}
        bonds = {n: a for n, a in self.bondings.items() if not a.get("remove")}
        return nets, bonds, {**NO_CHECK, **self.options}


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    xfail: str = ""  # a known engine bug (with the proposed fix in the lead's report)

    @property
    def foreign_links(self) -> frozenset[str]:
        return frozenset(n for s in self.steps for f in s.before for n in f.links)


# -- small builders ---------------------------------------------------------------------------

RM = {"remove": True}


def net(**attrs: Any) -> dict[str, Any]:
    return attrs


def bond(nics: tuple[str, ...], options: str = "mode=4 miimon=100", **attrs: Any) -> dict[str, Any]:
    return {"nics": list(nics), "options": options, **attrs}


def v4(ip: str, gw: str | None = None, default: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"ipaddr": ip, "netmask": "255.255.255.0", "bootproto": "none"}
    if gw is not None:
        out["gateway"] = gw
    if default:
        out["defaultRoute"] = True
    return out


def _link(name: str, **fields: Any) -> Expect:
    def holds(state: KernelState) -> bool:
        link = state.links.get(name)
        return link is not None and all(getattr(link, k) == v for k, v in fields.items())

    return Expect(f"{name} has {fields}", holds)


def _absent(*names: str) -> Expect:
    return Expect(f"{names} absent", lambda s: not set(names) & set(s.links))


def _mtus(mtu: int, *names: str) -> Expect:
    return Expect(f"{names} at MTU {mtu}", lambda s: all(s.links[n].mtu == mtu for n in names))


def _route(route: Route, present: bool = True) -> Expect:
    return Expect(f"{route} {'present' if present else 'absent'}",
                  lambda s: (route in s.routes) == present)


def _source_routing(top: str, subnet: str, gw: str) -> tuple[Expect, ...]:
    table = source_table(top)
    rules = {Rule(SOURCE_RULE_PRIORITY, table, src=subnet),
             Rule(SOURCE_RULE_PRIORITY, table, dst=subnet)}
    return (
        _route(Route("0.0.0.0/0", top, gw, table)),
        _route(Route(subnet, top, None, table, scope_link=True)),
        Expect(f"source rules of {top}", lambda s: rules <= s.rules),
    )


def _clean(*names: str) -> tuple[Expect, ...]:
    """After removal: nothing owned is left, and the named NICs are reset (1500, no master)."""
    return (
        Expect("no owned link left", lambda s: all(lk.tag is None for lk in s.links.values())),
        Expect("no address, route or rule left",
               lambda s: not (s.addresses or s.routes or s.rules)),
        *(_link(n, master=None, mtu=1500, tag=None) for n in names),
    )


# -- the scenarios ----------------------------------------------------------------------------

BOND01 = ("dummy_0", "dummy_1")


def _on_base(
    label: str, base: dict[str, Any], bonds: dict[str, Any], top_nic: str
) -> list[Scenario]:
    """Bridged and bridgeless, with and without a VLAN, on one base (a NIC or a bond)."""
    out = []
    for bridged in (True, False):
        for vlan in (None, 30):
            attrs = {**base, "bridged": bridged, **v4("192.0.2.10", "192.0.2.1")}
            if vlan is not None:
                attrs["vlan"] = vlan
            dev = f"{top_nic}.{vlan}" if vlan else top_nic
            top = "red" if bridged else dev
            kind = ("bridged" if bridged else "bridgeless") + ("_vlan" if vlan else "")
            cleanup_bonds = {name: RM for name in bonds}
            out.append(Scenario(f"{kind}_on_{label}", (
                Step({"red": attrs}, bonds, expect=(
                    _link(top, up=True), *_source_routing(top, "192.0.2.0/24", "192.0.2.1"),
                )),
                Step({"red": RM}, cleanup_bonds, expect=_clean(*BOND01 if bonds else (top_nic,))),
            )))
    return out


SCENARIOS: tuple[Scenario, ...] = (
    *_on_base("nic", {"nic": "dummy_0"}, {}, "dummy_0"),
    *_on_base("bond", {"bonding": "bond0"}, {"bond0": bond(BOND01)}, "bond0"),
    Scenario("bond_modes_options_slaves", (
        Step({"red": net(bonding="bond0", vlan=7)},
             {"bond0": bond(BOND01, "mode=1 miimon=150 primary=dummy_0")},
             expect=(_link("bond0", bond_options=(("mode", "1"), ("miimon", "150"),
                                                  ("primary", "dummy_0"))),)),
        Step({}, {"bond0": bond(BOND01, "mode=4 lacp_rate=1 xmit_hash_policy=2")},
             expect=(_link("bond0", bond_options=(("mode", "4"), ("lacp_rate", "1"),
                                                  ("xmit_hash_policy", "2"))),
                     _link("bond0.7", master="red"))),
        Step({}, {"bond0": bond(("dummy_1", "dummy_2"), "mode=4 lacp_rate=1 xmit_hash_policy=2")},
             expect=(_link("dummy_2", master="bond0"), _link("dummy_0", master=None, tag=None))),
        Step({}, {"bond0": bond(("dummy_1", "dummy_2"), "mode=1 miimon=100")}),
        Step({"red": RM}, {"bond0": RM}, expect=_clean(*NICS[:3])),
    )),
    Scenario("bond_forced_hwaddr", (
        Step({"red": net(bonding="bond0")},
             {"bond0": bond(BOND01, "mode=1 miimon=100", hwaddr="02:00:00:00:aa:01")},
             expect=(_link("bond0", mac="02:00:00:00:aa:01"),)),
        Step({}, {"bond0": bond(BOND01, "mode=1 miimon=100", hwaddr="02:00:00:00:aa:02")},
             expect=(_link("bond0", mac="02:00:00:00:aa:02"),)),
    )),
    Scenario("vlan_moves_tag_and_bridged_toggles", (
        Step({"red": net(nic="dummy_0", vlan=10, **v4("198.51.100.5", "198.51.100.1", True))}),
        Step({"red": net(nic="dummy_1", vlan=10, **v4("198.51.100.5", "198.51.100.1", True))},
             expect=(_absent("dummy_0.10"), _link("dummy_1.10", master="red"),
                     _link("dummy_0", tag=None, master=None))),
        Step({"red": net(nic="dummy_1", vlan=11, **v4("198.51.100.5", "198.51.100.1", True))},
             expect=(_absent("dummy_1.10"), _link("dummy_1.11", vlan_id=11),
                     _route(Route("0.0.0.0/0", "red", "198.51.100.1", MAIN_TABLE)))),
        Step({"red": net(nic="dummy_1", vlan=11, bridged=False,
                         **v4("198.51.100.5", "198.51.100.1", True))},
             expect=(_absent("red"),
                     _route(Route("0.0.0.0/0", "dummy_1.11", "198.51.100.1", MAIN_TABLE)))),
        Step({"red": net(nic="dummy_1", vlan=11, bridged=True,
                         **v4("198.51.100.5", "198.51.100.1", True))},
             expect=(_link("dummy_1.11", master="red"),)),
    )),
    Scenario("jumbo_bond_vlan_bridge", (
        Step({"red": net(bonding="bond0", vlan=20, mtu=9000)}, {"bond0": bond(BOND01)},
             expect=(_mtus(9000, "dummy_0", "dummy_1", "bond0", "bond0.20", "red"),)),
        Step({"red": net(bonding="bond0", vlan=20, mtu=2000)},
             expect=(_mtus(2000, "dummy_0", "dummy_1", "bond0", "bond0.20", "red"),)),
        Step({"red": net(bonding="bond0", vlan=20, mtu=9000)}),
        Step({"red": RM}, {"bond0": RM}, expect=_clean(*BOND01)),
    )),
    Scenario("static_v4_v6_default_route_and_source_routing", (
        Step({
            "red": net(nic="dummy_0", **v4("192.0.2.10", "192.0.2.1", True),
                       ipv6addr="2001:db8:1::10/64", ipv6gateway="2001:db8:1::1"),
            "blue": net(nic="dummy_1", bridged=False, **v4("203.0.113.10", "203.0.113.1")),
        }, expect=(
            _route(Route("0.0.0.0/0", "red", "192.0.2.1", MAIN_TABLE)),
            _route(Route("::/0", "red", "2001:db8:1::1", MAIN_TABLE)),
            _route(Route("0.0.0.0/0", "dummy_1", "203.0.113.1", MAIN_TABLE), present=False),
            *_source_routing("red", "192.0.2.0/24", "192.0.2.1"),
            *_source_routing("dummy_1", "203.0.113.0/24", "203.0.113.1"),
        )),
        Step({"blue": net(nic="dummy_1", bridged=False, **v4("203.0.113.10", "203.0.113.1", True))},
             expect=(_route(Route("0.0.0.0/0", "dummy_1", "203.0.113.1", MAIN_TABLE)),
                     _route(Route("0.0.0.0/0", "red", "192.0.2.1", MAIN_TABLE), present=False))),
        Step({"red": RM, "blue": RM}, expect=_clean("dummy_0", "dummy_1")),
    )),
    Scenario("nicless_bridge_opts_and_stp", (
        Step({"red": net(**v4("192.0.2.10"))}, expect=(_link("red", kind="bridge"),)),
        Step({"red": net(stp=True, custom={"bridge_opts": "multicast_snooping=0 priority=1"})},
             expect=(_link("red", stp=True,
                           bridge_opts=(("multicast_snooping", "0"), ("priority", "1"))),)),
        Step({"red": net(nic="dummy_2", custom={"bridge_opts": "priority=7"})},
             expect=(_link("red", stp=False, bridge_opts=(("priority", "7"),)),
                     _link("dummy_2", master="red"))),
        Step({"red": RM}, expect=_clean("dummy_2")),
    )),
    Scenario("unowned_bridge_is_never_taken_over", (  # issue 12 row 6
        Step({"red": net(nic="dummy_0")}, before=(Foreign("bridge", "red"),), error=27,
             expect=(_link("red", tag=None, up=False), _link("dummy_0", master=None))),
        Step({"red": RM}, error=27, expect=(_link("red", tag=None),)),
        Step({"blue": net(nic="dummy_0")}, expect=(_link("dummy_0", master="blue"),)),
    )),
    Scenario("port_removed_behind_our_back", (
        Step({"red": net(nic="dummy_0", vlan=40)}),
        Step({"red": net(nic="dummy_0", vlan=40)}, before=(Foreign("delete", "dummy_0.40"),),
             expect=(_link("dummy_0.40", master="red"),)),
        Step({"red": net(nic="dummy_0", vlan=40)}, before=(Foreign("nomaster", "dummy_0.40"),),
             expect=(_link("dummy_0.40", master="red"),)),
        Step({"blue": net(nic="dummy_1")}),
        Step({"blue": net(nic="dummy_1")}, before=(Foreign("nomaster", "dummy_1"),),
             expect=(_link("dummy_1", master="blue"),)),
    )),
    Scenario("foreign_tap_blocks_removal", (
        Step({"red": net(nic="dummy_0", **v4("192.0.2.10", "192.0.2.1"))}),
        Step({"red": RM}, before=(Foreign("tap", "tap0", master="red"),), error=27),
        Step({"red": net(nic="dummy_1", **v4("192.0.2.10", "192.0.2.1"))},
             expect=(_link("tap0", master="red"), _link("dummy_1", master="red"))),
    )),
)

def qos(ls: int, ul: int | None = None, rt: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ls": {"m2": ls}}
    if ul is not None:
        out["ul"] = {"m2": ul}
    if rt is not None:
        out["rt"] = {"m2": rt}
    return {"out": out}


def _tc(*lines: str, present: bool = True) -> Expect:
    """Traffic-control objects, as ``describe()`` prints them, present (or absent)."""
    return Expect(f"tc {lines} {'present' if present else 'absent'}",
                  lambda s: all((line in {o.describe() for o in s.tc}) == present
                                for line in lines))


def _no_tc(dev: str) -> Expect:
    return Expect(f"no tc object on {dev}", lambda s: all(o.dev != dev for o in s.tc))


M = 1_000_000
QOS_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("host_qos_vlans_bond_change_remove", (
        Step({"red": net(nic="dummy_0", vlan=10, hostQos=qos(20, 100 * M, 50 * M)),
              "blue": net(nic="dummy_0", vlan=20, bridged=False, hostQos=qos(50)),
              "green": net(bonding="bond0", hostQos=qos(10, 8 * M))},
             {"bond0": bond(("dummy_1", "dummy_2"), "mode=1 miimon=100")},
             expect=(_tc("qdisc hfsc 1389: parent root default 1388 dev dummy_0",
                         "class hfsc 1389:a ls m2 160bit ul m2 100000000bit rt m2 50000000bit "
                         "dev dummy_0",
                         "class hfsc 1389:14 ls m2 400bit dev dummy_0",
                         "class hfsc 1389:1388 ls m2 400bit dev dummy_0",
                         "qdisc fq_codel a: parent 1389:a dev dummy_0",
                         "filter basic pref 10 match 'meta(vlan eq 10)' flowid 1389:a dev dummy_0",
                         "filter u32 pref 5000 match u32 0 0 flowid 1389:1388 dev dummy_0",
                         "class hfsc 1389:1388 ls m2 80bit ul m2 8000000bit dev bond0"),
                     _no_tc("dummy_0.10"), _no_tc("red"), _no_tc("dummy_1"))),
        Step({"red": net(nic="dummy_0", vlan=10, hostQos=qos(20, rt=40 * M)),
              "blue": net(nic="dummy_0", vlan=20, bridged=False, hostQos=qos(30, 9 * M))},
             expect=(_tc("class hfsc 1389:a ls m2 160bit rt m2 40000000bit dev dummy_0",
                         "class hfsc 1389:14 ls m2 240bit ul m2 9000000bit dev dummy_0",
                         "class hfsc 1389:1388 ls m2 240bit dev dummy_0"),)),
        Step({"blue": net(nic="dummy_0", vlan=20, bridged=False)}, error=21),
        Step({"blue": net(nic="dummy_0", vlan=20, bridged=False, hostQos=qos(5, 1 * M, 2 * M))},
             error=21),
        Step({"blue": net(nic="dummy_0", vlan=20, bridged=False,
                          hostQos={"out": {"ul": {"m2": M}}})}, error=21),
        Step({"blue": RM},
             expect=(_tc("class hfsc 1389:14 ls m2 240bit dev dummy_0",
                         "filter basic pref 20 match 'meta(vlan eq 20)' flowid 1389:14 dev dummy_0",
                         present=False),
                     _tc("class hfsc 1389:1388 ls m2 160bit dev dummy_0"))),
        Step({"red": net(nic="dummy_0", vlan=10)}, expect=(_no_tc("dummy_0"),)),
        Step({"red": RM, "green": RM}, {"bond0": RM},
             expect=(*_clean(*NICS[:3]), Expect("no tc object left", lambda s: not s.tc))),
    )),
)

BOND_RELEASE_SCENARIOS: tuple[Scenario, ...] = (
    # The bonding driver closes a port it releases; the engine must bring a freed NIC back up.
    Scenario("released_bond_slaves_stay_up", (
        Step({"red": net(bonding="bond0")}, {"bond0": bond(BOND01)}),
        Step({}, {"bond0": bond(("dummy_1", "dummy_2"))},
             expect=(_link("dummy_0", master=None, tag=None, up=True),)),
        Step({"red": RM}, {"bond0": RM},
             expect=tuple(_link(n, up=True) for n in ("dummy_1", "dummy_2"))),
    )),
)


def params() -> list[Any]:
    """The scenarios as pytest params, the known-bug ones marked xfail(strict=True)."""
    import pytest

    return [
        pytest.param(s, id=s.name, marks=pytest.mark.xfail(strict=True, reason=s.xfail))
        if s.xfail else pytest.param(s, id=s.name)
        for s in (*SCENARIOS, *QOS_SCENARIOS, *BOND_RELEASE_SCENARIOS)
    ]
