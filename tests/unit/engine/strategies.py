"""Hypothesis strategies for the engine: valid running configs over a set of NICs.

Reusable by other areas: ``nic_sets()`` draws NIC names, ``running_configs(nics)`` draws a
``RunningConfig`` that passes vdsm's validation rules (one untagged network and distinct VLAN
ids per base, bond slaves carry no network, at most one default-route network, gateways inside
their subnet; the networks of some bases, and those bases' bonds, are ``switch: ovs``).
``seed_foreign(kernel)`` adds a link, address, route and rule the agent must never
touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hypothesis import strategies as st

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.kernel import Address, Route, Rule

MTUS = (1500, 1600, 9000)
VLAN_IDS = (0, 10, 100, 4094)
BOND_MODES = ("0", "1", "4")
FOREIGN_LINK = "dummy9"


@st.composite
def nic_sets(draw: st.DrawFn, min_size: int = 2, max_size: int = 5) -> list[str]:
    count = draw(st.integers(min_size, max_size))
    return [f"eth{i}" for i in range(count)]


@st.composite
def bonds(draw: st.DrawFn, nics: Sequence[str]) -> dict[str, Bond]:
    free = list(nics)
    out: dict[str, Bond] = {}
    for i in range(draw(st.integers(0, 2))):
        if not free:
            break
        members = draw(st.lists(st.sampled_from(free), min_size=1, max_size=3, unique=True))
        free = [n for n in free if n not in members]
        mode = draw(st.sampled_from(BOND_MODES))
        extra: tuple[tuple[str, str], ...] = draw(st.sampled_from(((), (("miimon", "100"),))))
        hwaddr = draw(st.sampled_from((None, f"02:00:00:00:00:0{i}")))
        name = f"bond{i}"
        out[name] = Bond(name, tuple(sorted(members)), (("mode", mode), *extra), hwaddr)
    return out


@st.composite
def networks(draw: st.DrawFn, bases: Sequence[str], bond_names: set[str]) -> dict[str, Network]:
    out: dict[str, Network] = {}
    taken: set[tuple[str, int | None]] = set()
    default_taken = False
    for j in range(draw(st.integers(0, 5))):
        name = f"net{j}"
        base = draw(st.sampled_from((None, *bases)))
        vlan = draw(st.sampled_from((None, *VLAN_IDS))) if base is not None else None
        if base is not None and (base, vlan) in taken:
            continue
        if base is not None:
            taken.add((base, vlan))
        bridged = True if base is None else draw(st.booleans())
        ip4 = draw(st.booleans())
        gateway = f"10.{j}.0.1" if ip4 and draw(st.booleans()) else None
        ip6 = draw(st.booleans())
        gateway6 = f"fd00:{j}::1" if ip6 and draw(st.booleans()) else None
        default_route = (gateway or gateway6) is not None and not default_taken
        default_route = default_route and draw(st.booleans())
        default_taken = default_taken or default_route
        out[name] = Network(
            name,
            nic=base if base is not None and base not in bond_names else None,
            bonding=base if base in bond_names else None,
            vlan=vlan,
            bridged=bridged,
            stp=bridged and draw(st.booleans()),
            mtu=draw(st.sampled_from(MTUS)),
            ipaddr=f"10.{j}.0.5" if ip4 else None,
            netmask="255.255.255.0" if ip4 else None,
            gateway=gateway,
            ipv6addr=f"fd00:{j}::5/64" if ip6 else None,
            ipv6gateway=gateway6,
            default_route=default_route,
            bridge_opts=draw(st.sampled_from(((), (("multicast_snooping", "0"),))))
            if bridged else (),
        )
    return out


@st.composite
def running_configs(draw: st.DrawFn, nics: Sequence[str]) -> RunningConfig:
    bond_map = draw(bonds(nics))
    slaves = {n for b in bond_map.values() for n in b.nics}
    bases = [n for n in nics if n not in slaves] + sorted(bond_map)
    nets = draw(networks(bases, set(bond_map)))
    ovs_bases = draw(st.sets(st.sampled_from(bases))) if bases else set()
    for name, net in nets.items():  # the networks of an OVS base are all OVS, and its bond
        if net.base in ovs_bases:
            nets[name] = replace(net, switch="ovs", stp=False, bridge_opts=())
    for name in ovs_bases & set(bond_map):
        bond_map[name] = replace(bond_map[name], switch="ovs")
    return RunningConfig(networks=nets, bonds=bond_map)


def seed_foreign(kernel: MemoryKernel) -> None:
    """A link, address, route and rule that belong to someone else."""
    kernel.add_foreign_link(FOREIGN_LINK)
    kernel.add_address(Address(FOREIGN_LINK, "192.0.2.10/24"))
    kernel.add_route(Route("198.51.100.0/24", FOREIGN_LINK, "192.0.2.1"))
    kernel.add_rule(Rule(100, 1000, src="203.0.113.0/24"))
