"""The address, route and rule part of a plan.

Managed addresses and routes are those on wanted links; managed rules are those at the
source-routing priority. A dynamic ``(link, family)`` (``target.dynamic``: DHCP or SLAAC) keeps
whatever its client configured: those addresses (``render.client_address``: IPv6 ones only when
the kernel holds them with a lifetime), routes and the rules into their tables are never
deleted here. Removals run before links are deleted or bounced; additions run last,
with the main table's default routes at the very end.

Kernel side effects are made explicit: a link that goes down (``bounced``) loses its routes and
IPv6 addresses, and a link that loses an IPv4 address may lose its IPv4 routes, so those are
deleted beforehand and added back afterwards. Links in ``dead`` are deleted and take their
addresses and routes with them.
"""

from __future__ import annotations

from collections.abc import Mapping

from vdsm_net.engine.render import client_address
from vdsm_net.model.kernel import MAIN_TABLE, Address, KernelState, Link, Route, Rule
from vdsm_net.model.ops import AddAddress, AddRoute, AddRule, DelAddress, DelRoute, DelRule, Op


def _route_order(route: Route) -> tuple[bool, bool, int, int, str, str, str]:
    """Link-scope routes before gateway routes; the main table's defaults last, IPv4 first."""
    main_default = route.is_default and route.table == MAIN_TABLE
    return (
        main_default, not route.scope_link, route.family, route.table, route.dst, route.oif,
        route.gateway or "",
    )


class IpPlan:
    def __init__(
        self,
        target: KernelState,
        observed: KernelState,
        want: Mapping[str, Link],
        dead: set[str],
        bounced: set[str],
        rule_priority: int,
    ) -> None:
        dyn = target.dynamic
        t_addr = {a for a in target.addresses if a.ifname in want}
        o_addr = {a for a in observed.addresses if a.ifname in want and a.ifname not in dead}
        self.del_addr = {
            a for a in o_addr
            if not client_address(a, dyn)
            and (a not in t_addr or (a.family == 6 and a.ifname in bounced))
        }
        refresh4 = {a.ifname for a in self.del_addr if a.family == 4}
        self.add_addr = t_addr - (o_addr - self.del_addr)

        t_route = {r for r in target.routes if r.oif in want}
        o_route = {r for r in observed.routes if r.oif in want and r.oif not in dead}
        self.del_route = {
            r for r in o_route
            if (r.oif, r.family) not in dyn
            and (r not in t_route or r.oif in bounced or (r.family == 4 and r.oif in refresh4))
        }
        self.add_route = t_route - (o_route - self.del_route)

        t_rule = {r for r in target.rules if r.priority == rule_priority}
        o_rule = {r for r in observed.rules if r.priority == rule_priority}
        dyn_tables = {
            r.table for r in observed.routes if (r.oif, r.family) in dyn and r.table != MAIN_TABLE
        }
        self.del_rule = {r for r in o_rule - t_rule if r.table not in dyn_tables}
        self.add_rule = t_rule - o_rule

    def removals(self) -> list[Op]:
        ops: list[Op] = [DelRule(r) for r in sorted(self.del_rule, key=_rule_key)]
        ops += [DelRoute(r) for r in sorted(self.del_route, key=_route_order, reverse=True)]
        ops += [DelAddress(a) for a in sorted(self.del_addr, key=_addr_key)]
        return ops

    def additions(self) -> list[Op]:
        ops: list[Op] = [AddAddress(a) for a in sorted(self.add_addr, key=_addr_key)]
        routes = sorted((_route_order(r), r) for r in self.add_route)
        ops += [AddRoute(r) for key, r in routes if not key[0]]
        ops += [AddRule(r) for r in sorted(self.add_rule, key=_rule_key)]
        ops += [AddRoute(r) for key, r in routes if key[0]]
        return ops


def _addr_key(a: Address) -> tuple[str, int, str]:
    return (a.ifname, a.family, a.address)


def _rule_key(r: Rule) -> tuple[int, int, str, str]:
    return (r.priority, r.table, r.src or "", r.dst or "")
