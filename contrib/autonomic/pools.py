"""Per-host addresses from a network's ``ipv4pool``/``ipv6pool``, kept in etcd by host id.

``alloc/<network>/<hostid>`` holds ``{"ipv4": "A/P", "ipv6": "A/P"}``. An allocation is never
released when a host goes away (a rebooting host must get the same address back); it is replaced
only when the pool changed and the old address is no longer in it. The pool's first host address
(and the network's gateway) are never given out.

Two managers can never give one address twice: the write is a transaction that holds only if no
allocation of that network was written since the read it was chosen from; a lost race re-reads
and chooses again (one manager allocates one network's addresses one at a time, so its own
visits never race each other). An allocation already made and still in the pool is read alone,
not with the whole network's.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator
from typing import Any

from autonomic.store import Absent, Cond, Put, Store, StoreError, Unchanged
from vdsm_net.cluster.keys import Keys

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FAMILIES = {"ipv4pool": "ipv4", "ipv6pool": "ipv6"}
ATTEMPTS = 20


class PoolExhausted(Exception):
    pass


def parse_pool(key: str, text: object) -> IPNetwork:
    """A pool CIDR for ``ipv4pool``/``ipv6pool``; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"{key} must be a CIDR string, not {text!r}")
    try:
        pool = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{key} {text!r} is not a network in CIDR form: {exc}") from None
    want = 4 if key == "ipv4pool" else 6
    if pool.version != want:
        raise ValueError(f"{key} {text!r} is not an IPv{want} network")
    if pool.num_addresses < 4:
        raise ValueError(f"{key} {text!r} has no address to give (its first one is kept)")
    return pool


def candidates(pool: IPNetwork, reserved: Iterable[str] = ()) -> Iterator[IPAddress]:
    """The pool's host addresses in order, without the first one and without ``reserved``."""
    skip = {ipaddress.ip_address(r) for r in reserved}
    hosts = pool.hosts()
    next(hosts, None)  # the first address: the pool's own (a router, a gateway)
    for address in hosts:
        if address not in skip:
            yield address


def choose(pool: IPNetwork, used: Iterable[str], reserved: Iterable[str] = ()) -> str:
    """The lowest free address of ``pool`` as ``A/P``, given the addresses already given."""
    taken = {ipaddress.ip_interface(u).ip for u in used}
    for address in candidates(pool, reserved):
        if address not in taken:
            return f"{address}/{pool.prefixlen}"
    raise PoolExhausted(f"pool {pool} has no free address")


def in_pool(address: str | None, pool: IPNetwork) -> bool:
    if not address:
        return False
    iface = ipaddress.ip_interface(address)
    return iface.ip in pool and iface.network.prefixlen == pool.prefixlen


def _decode(raw: bytes) -> dict[str, str]:
    try:
        doc: Any = json.loads(raw)
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, str)} if isinstance(doc, dict) else {}


async def allocate(
    store: Store,
    keys: Keys,
    network: str,
    host_id: str,
    pools: dict[str, IPNetwork],
    reserved: Iterable[str] = (),
) -> dict[str, str]:
    """The host's addresses on ``network`` (``{"ipv4": .., "ipv6": ..}``), allocating what is
    missing; ``pools`` maps family to pool. Raises PoolExhausted or StoreError."""
    reserved = list(reserved)
    prefix = keys.alloc_prefix(network)
    key = keys.alloc(network, host_id)
    kept = await store.get(key)  # the common case (every visit after the first): one read
    if kept is not None:
        mine = _decode(kept.value)
        if all(in_pool(mine.get(family), pool) for family, pool in pools.items()):
            return mine
    for _ in range(ATTEMPTS):
        entries, revision = await store.range(prefix)
        others = [_decode(e.value) for e in entries if e.key != key]
        mine_entry = next((e for e in entries if e.key == key), None)
        mine = _decode(mine_entry.value) if mine_entry else {}
        wanted = dict(mine)
        for family, pool in pools.items():
            if not in_pool(mine.get(family), pool):
                used = [o[family] for o in others if family in o]
                wanted[family] = choose(pool, used, reserved)
        if wanted == mine:
            return mine
        conds: list[Cond] = [Unchanged(prefix, revision)]
        if mine_entry is None:
            conds.append(Absent(key))
        if await store.txn(conds, [Put(key, json.dumps(wanted, sort_keys=True).encode())]):
            return wanted
    raise StoreError(f"allocation for {host_id} on {network} kept losing races")
