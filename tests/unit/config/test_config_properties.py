"""Property tests: canonical forms are fixed points, bond options ignore token order, merge laws."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from vdsm_net.engine.canonicalize import canonical_bond, canonical_network
from vdsm_net.engine.merge import merge
from vdsm_net.model.desired import Bond, Network, Options, Request, RunningConfig
from vdsm_net.model.linkopts import BOND_MODES, canonical_bond_options

NICS = st.sampled_from(["eth0", "eth1", "ens3", "enp0s31f6"])
BOOLS = st.one_of(st.booleans(), st.sampled_from(["true", "false", "TRUE", "False", "1", "0"]))
STP = st.one_of(st.booleans(), st.sampled_from(["yes", "no", "on", "off", "True", "false"]))
BRIDGE_OPTS = st.lists(
    st.sampled_from([
        "priority=1", "priority=32768", "multicast_snooping=0", "multicast_router=2",
        "hello_time=200", "forward_delay=0x3e8", "vlan_filtering=1", "group_fwd_mask=0x8",
        "hash_max=512", "foo=1",
    ]),
    max_size=5,
)


@st.composite
def engine_networks(draw: st.DrawFn) -> dict[str, Any]:
    """Network attributes in the shapes the engine sends."""
    attrs: dict[str, Any] = {}
    base = draw(st.sampled_from(["nic", "bonding", None]))
    if base == "nic":
        attrs["nic"] = draw(NICS)
    elif base == "bonding":
        attrs["bonding"] = draw(st.sampled_from(["bond0", "bond_x"]))
    vlan = draw(st.one_of(st.none(), st.integers(0, 4094)))
    if vlan is not None:
        attrs["vlan"] = draw(st.sampled_from([vlan, str(vlan)]))
    if draw(st.booleans()):
        attrs["bridged"] = draw(BOOLS)
    if draw(st.booleans()):
        attrs["stp"] = draw(STP)
    if draw(st.booleans()):
        mtu = draw(st.integers(68, 9000))
        attrs["mtu"] = draw(st.sampled_from([mtu, str(mtu)]))
    ip = draw(st.sampled_from(["none", "dhcp", "prefix", "netmask"]))
    if ip == "dhcp":
        attrs["bootproto"] = "dhcp"
    elif ip != "none":
        attrs["ipaddr"] = str(ipaddress.IPv4Address(draw(st.integers(1, 2**32 - 2))))
        prefix = draw(st.integers(0, 32))
        if ip == "prefix":
            attrs["prefix"] = str(prefix)
        else:
            attrs["netmask"] = str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
        if draw(st.booleans()):
            attrs["gateway"] = "192.0.2.254"
    for key in ("dhcpv6", "ipv6autoconf", "defaultRoute"):
        if draw(st.booleans()):
            attrs[key] = draw(BOOLS)
    if draw(st.booleans()):
        address = ipaddress.IPv6Address(draw(st.integers(1, 2**128 - 1)))
        attrs["ipv6addr"] = f"{address.exploded}/{draw(st.integers(1, 128))}"
        attrs["ipv6gateway"] = draw(st.sampled_from(["::", "fd00::1"]))
    if draw(st.booleans()):
        attrs["nameservers"] = draw(st.lists(st.sampled_from(["1.1.1.1", "fd00::53"]),
                                             max_size=2))
    custom: dict[str, str] = {}
    if draw(st.booleans()):
        custom["bridge_opts"] = " ".join(draw(BRIDGE_OPTS))
    if draw(st.booleans()):
        custom["note"] = draw(st.text(min_size=0, max_size=5))
    if draw(st.booleans()):
        custom["default_route"] = draw(st.sampled_from(["true", "false"]))
    if custom:
        attrs["custom"] = custom
    if draw(st.booleans()):
        attrs["hostQos"] = {"out": {"ls": {"m2": draw(st.integers(0, 10**6))}}}
    return attrs


@given(engine_networks())
def test_canonical_network_is_a_fixed_point(attrs: dict[str, Any]) -> None:
    net = canonical_network("net", attrs)
    assert canonical_network("net", net.to_wire()) == net


BOND_TOKENS = st.lists(
    st.sampled_from([
        "miimon=100", "miimon=0", "xmit_hash_policy=layer3+4", "xmit_hash_policy=2",
        "min_links=2", "arp_ip_target=10.0.0.1,10.0.0.2", "all_slaves_active=on",
        "resend_igmp=1", "num_unsol_na=2", "fail_over_mac=active", "use_carrier=0",
    ]),
    unique_by=lambda token: token.split("=")[0],
    max_size=5,
)


@st.composite
def bond_option_texts(draw: st.DrawFn) -> list[str]:
    tokens = draw(BOND_TOKENS)
    mode = draw(st.sampled_from(sorted(BOND_MODES) + [str(n) for n in range(7)]))
    tokens.append(f"mode={mode}")
    return tokens


def _options_or_none(text: str) -> tuple[tuple[str, str], ...] | None:
    try:
        return canonical_bond_options(text)
    except ValueError:
        return None


@given(bond_option_texts(), st.randoms(use_true_random=False))
def test_bond_options_ignore_token_order(tokens: list[str], rnd: Any) -> None:
    first = _options_or_none(" ".join(tokens))
    rnd.shuffle(tokens)
    assert _options_or_none(" ".join(tokens)) == first


@given(bond_option_texts(), st.lists(NICS, min_size=1, max_size=3, unique=True),
       st.sampled_from([None, "CE:0C:46:59:C9:D1"]))
def test_canonical_bond_is_a_fixed_point(
    tokens: list[str], nics: list[str], hwaddr: str | None
) -> None:
    attrs: dict[str, Any] = {"nics": nics, "options": " ".join(tokens)}
    if hwaddr:
        attrs["hwaddr"] = hwaddr
    # an inconsistent combination is refused; that is tested in test_config_linkopts
    assume(_options_or_none(attrs["options"]) is not None)
    bond = canonical_bond("bond1", attrs)
    assert bond.options[0][0] == "mode"
    assert list(bond.options[1:]) == sorted(bond.options[1:])
    assert canonical_bond("bond1", bond.to_wire()) == bond


NAMES = st.sampled_from(["a", "b", "c", "d"])
NETS = st.builds(Network, name=st.just("x"), nic=NICS, vlan=st.one_of(st.none(),
                                                                     st.integers(0, 9)))
RUNNING = st.builds(RunningConfig, networks=st.dictionaries(NAMES, NETS, max_size=4),
                    bonds=st.dictionaries(st.sampled_from(["bond1", "bond2"]),
                                          st.builds(Bond, name=st.just("b"),
                                                    nics=st.just(("eth0",))), max_size=2))
REQUEST = st.builds(
    Request,
    networks=st.dictionaries(NAMES, st.one_of(st.none(), NETS), max_size=4),
    bondings=st.dictionaries(st.sampled_from(["bond1", "bond3"]),
                             st.one_of(st.none(), st.builds(Bond, name=st.just("b"),
                                                            nics=st.just(("eth1",)))),
                             max_size=2),
    options=st.builds(Options, full_state=st.booleans()),
)


@given(RUNNING, REQUEST)
def test_merge_laws(running: RunningConfig, request: Request) -> None:
    desired = merge(running, request)
    assert merge(desired, request) == desired  # applying the same request twice changes nothing
    for name, net in request.networks.items():
        assert desired.networks.get(name) == net
    for name, bond in request.bondings.items():
        assert desired.bonds.get(name) == bond
    for name, net in running.networks.items():
        if name not in request.networks:
            assert desired.networks.get(name) == (None if request.options.full_state else net)
    for name, old in running.bonds.items():
        if name not in request.bondings:
            assert desired.bonds.get(name) == (None if request.options.full_state else old)
