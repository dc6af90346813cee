"""``vdsm-net-manager``: the command line (a stable contract: other tools script against it).

    vdsm-net-manager run --etcd URL[,URL] --id NAME [--pki DIR] [--lease-ttl S]
                         [--parallel N] [--rate R] [--resync S]
    vdsm-net-manager --etcd URL policy set -f FILE|-     # validated; refused: exit 1, no write
    vdsm-net-manager --etcd URL policy get               # the stored policy (JSON), exit 1 if none
    vdsm-net-manager --etcd URL hosts [--json]
    vdsm-net-manager --etcd URL maintenance HOSTID on|off
    vdsm-net-manager --etcd URL leader                   # the leading manager's id, exit 1 if none

``--etcd`` may also follow ``run``; ``--prefix`` (default ``/vdsm-net/``) is the key prefix.
``hosts --json`` prints a list sorted by id of objects with ``id``, ``address`` (null when not
registered), ``state`` (one of Up, Applying, NonOperational, NonResponsive, Maintenance, Error;
null before the first visit), ``bootId``, ``error`` (null or ``{code, message}``), ``inUse``
(networks kept because VMs use them), ``registered``, ``updatedAt`` and ``follower`` (with
``"master": "engine"``: no-safe-config, engine-applied, waiting, restored or error, for the host's
current boot; null otherwise) with ``followerError`` (null or ``{code, message}``).
Errors go to stderr with exit status 1; a refused policy prints ``(code=N, message=...)``.
``run`` logs ``manager NAME leads`` when it becomes the leader. ``--parallel`` bounds the hosts
visited at once (default 32), ``--rate`` the pushes started a second (a token bucket, default 50;
0: unbounded), so a thousand hosts joining at once do not overrun etcd or themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from autonomic.follower import FollowState, decode_follow_state
from autonomic.hostport import WireHosts
from autonomic.leader import leader_id
from autonomic.manager import Manager
from autonomic.policy import PolicyError, validate_policy
from autonomic.reconcile import DEFAULT_PARALLEL, DEFAULT_RATE, DEFAULT_RESYNC, read_snapshot
from autonomic.store import Store, StoreError, WallClock
from rpc.tls.context import DEFAULT_PKI_DIR, PkiError, client_files
from vdsm_net.cluster.endpoints import require_client_library
from vdsm_net.cluster.keys import DEFAULT_PREFIX, Keys

DEFAULT_TTL = 5


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vdsm-net-manager", description=__doc__.split("\n")[0])
    p.add_argument("--etcd", help="etcd client URLs, comma separated")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a manager (one of them leads)")
    run.add_argument("--etcd", dest="run_etcd", help="etcd client URLs, comma separated")
    run.add_argument("--id", required=True, help="this manager's name")
    run.add_argument("--pki", default=DEFAULT_PKI_DIR, help="vdsm PKI dir (engine certificate)")
    run.add_argument("--lease-ttl", type=int, default=DEFAULT_TTL, help="leader lease TTL (s)")
    run.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                     help=f"hosts visited at once (default {DEFAULT_PARALLEL})")
    run.add_argument("--rate", type=float, default=DEFAULT_RATE,
                     help=f"pushes started a second at most, a token bucket (default "
                          f"{DEFAULT_RATE:g}; 0: unbounded)")
    run.add_argument("--resync", type=float, default=DEFAULT_RESYNC, help="resync period (s)")
    pol = sub.add_parser("policy", help="set or get the cluster policy")
    pol_sub = pol.add_subparsers(dest="action", required=True)
    pset = pol_sub.add_parser("set")
    pset.add_argument("-f", "--file", required=True, help="the policy file, - for stdin")
    pol_sub.add_parser("get")
    hosts = sub.add_parser("hosts", help="the hosts and their states")
    hosts.add_argument("--json", action="store_true")
    maint = sub.add_parser("maintenance", help="put a host in or out of maintenance")
    maint.add_argument("host_id")
    maint.add_argument("mode", choices=["on", "off"])
    sub.add_parser("leader", help="print the leading manager's id")
    return p


async def _policy_set(store: Store, keys: Keys, path: str) -> int:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"the policy is not JSON: {exc}") from None
    snap = await read_snapshot(store, keys)
    mgmt = {r.view.mgmt_network for r in snap.hosts.values() if r.view.mgmt_network}
    bonds = {n: a for r in snap.hosts.values() for n, a in r.view.mgmt_bondings.items()}
    validate_policy(doc, mgmt, bonds)
    await store.put(keys.policy(), json.dumps(doc, sort_keys=True).encode())
    return 0


async def _policy_get(store: Store, keys: Keys) -> int:
    entry = await store.get(keys.policy())
    if entry is None:
        print("no policy is set", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(entry.value), indent=4, sort_keys=True))
    return 0


async def _follower_states(store: Store, keys: Keys) -> dict[str, FollowState]:
    entries, _ = await store.range(keys.restore_prefix())
    out = {}
    for entry in entries:
        host_id = keys.host_id_of(entry.key, keys.restore_prefix())
        record = decode_follow_state(entry.value) if host_id is not None else None
        if host_id is not None and record is not None:
            out[host_id] = record
    return out


async def host_list(store: Store, keys: Keys) -> list[dict[str, Any]]:
    snap = await read_snapshot(store, keys)
    follow = await _follower_states(store, keys) if snap.policy.engine_master else {}
    out = []
    for host_id in sorted(set(snap.hosts) | set(snap.states) | snap.maintenance):
        reg = snap.hosts.get(host_id)
        state = snap.states.get(host_id)
        out.append({
            "id": host_id,
            "address": reg.address if reg else None,
            "state": state.state if state else None,
            "bootId": reg.boot_id if reg else (state.boot_id if state else None),
            "error": state.error if state else None,
            "inUse": list(state.in_use) if state else [],
            "registered": reg is not None,
            "maintenance": host_id in snap.maintenance,
            "updatedAt": state.updated_at if state else None,
            **_follower(follow.get(host_id), reg.boot_id if reg else None),
        })
    return out


def _follower(record: FollowState | None, boot_id: str | None) -> dict[str, Any]:
    """``follower`` and ``followerError`` for the host's current boot (null before the
    follower's first visit of this boot)."""
    if record is None or boot_id is None or record.boot_id != boot_id:
        return {"follower": None, "followerError": None}
    return {"follower": record.state, "followerError": record.error}


async def _hosts(store: Store, keys: Keys, as_json: bool) -> int:
    rows = await host_list(store, keys)
    if as_json:
        print(json.dumps(rows, indent=4, sort_keys=True))
        return 0
    print(f"{'ID':<38} {'ADDRESS':<22} {'STATE':<15} {'IN USE':<16} {'FOLLOWER':<15} ERROR")
    for r in rows:
        err = r["error"] or r["followerError"]
        print(f"{r['id']:<38} {r['address'] or '-':<22} {r['state'] or '-':<15} "
              f"{','.join(r['inUse']) or '-':<16} {r['follower'] or '-':<15} "
              f"{'-' if err is None else '({}) {}'.format(err['code'], err['message'])}")
    return 0


async def _maintenance(store: Store, keys: Keys, host_id: str, mode: str) -> int:
    try:
        key = keys.maintenance(host_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if mode == "on":
        await store.put(key, json.dumps({"since": time.time()}).encode())
    else:
        await store.delete(key)
    return 0


async def _leader(store: Store, keys: Keys) -> int:
    entry = await store.get(keys.leader())
    name = leader_id(entry.value if entry else None)
    if name is None:
        print("no manager leads", file=sys.stderr)
        return 1
    print(name)
    return 0


async def _run(store: Store, keys: Keys, args: argparse.Namespace) -> int:
    client_files(args.pki)  # the engine certificate must be there before anything starts
    if args.lease_ttl < 2 or args.parallel < 1 or args.resync <= 0 or args.rate < 0:
        raise UsageError("--lease-ttl is at least 2, --parallel at least 1, --resync positive, "
                         "--rate not negative")
    loop = asyncio.get_running_loop()
    manager: Manager | None = None

    def event(host_id: str) -> None:
        if manager is not None:
            loop.call_soon_threadsafe(manager.host_event, host_id)

    hosts = WireHosts(args.pki, args.parallel, events=event)
    manager = Manager(store, keys, hosts, args.id, args.lease_ttl, WallClock(),
                      parallel=args.parallel, resync=args.resync, rate=args.rate or None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, manager.stopping.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    logging.getLogger(__name__).info("manager %s starting (etcd %s)", args.id,
                                      args.run_etcd or args.etcd)
    try:
        await manager.run()
    finally:
        await hosts.close()
    return 0


def dump_tasks() -> None:
    """SIGUSR1: where every task of the manager waits, in its log (a hang, diagnosed live)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        print(f"-- {task.get_name()}: {task.get_coro()}", file=out)
        for frame in task.get_stack(limit=12):  # not print_stack: linecache trips on gRPC's
            print(f"   {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}",
                  file=out)
    logging.getLogger(__name__).warning("tasks on SIGUSR1:\n%s", out.getvalue())


async def _dispatch(args: argparse.Namespace) -> int:
    urls = getattr(args, "run_etcd", None) or args.etcd
    if not urls:
        raise UsageError("--etcd URL[,URL...] is required")
    try:
        require_client_library()
        from autonomic.etcd import EtcdStore  # here: aetcd is optional (not in Debian 12)

        store = EtcdStore(urls)
        keys = Keys(args.prefix)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        if args.command == "run":
            return await _run(store, keys, args)
        if args.command == "policy":
            if args.action == "set":
                return await _policy_set(store, keys, args.file)
            return await _policy_get(store, keys)
        if args.command == "hosts":
            return await _hosts(store, keys, args.json)
        if args.command == "maintenance":
            return await _maintenance(store, keys, args.host_id, args.mode)
        return await _leader(store, keys)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet = args.command != "run"  # a command's own error says it all
    logging.basicConfig(level=logging.ERROR if quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aetcd").setLevel(logging.WARNING)
    try:
        return asyncio.run(_dispatch(args))
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
    except (UsageError, StoreError, PkiError, OSError) as exc:
        print(f"vdsm-net-manager: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
