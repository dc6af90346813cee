"""The etcd key contract between vdsm-netd (host side) and vdsm-net-manager.

Every key lives under a prefix (default ``/vdsm-net/``). Values are UTF-8 JSON unless said
otherwise.

- ``hosts/<id>`` (written by the agent, under its lease, TTL default 5 s, kept alive)::

      {"id": str, "address": "host:port" the manager connects to,
       "bootId": /proc/sys/kernel/random/boot_id, "startedAt": unix seconds (float),
       "mgmt": {"network": name, "attrs": {setupNetworks attributes of the boot mgmt network},
                "bondings": {bond: setupNetworks bonding attributes}},
       "nics": {name: {"mac": str, "permMac": str, "speed": int}}, "version": str}

- ``policy`` (manager): the cluster policy, JSON.
- ``alloc/<network>/<hostid>`` (manager): the address allocated to that host from the pool.
- ``state/<hostid>`` (manager)::

      {"state": "Up"|"Applying"|"NonOperational"|"NonResponsive"|"Maintenance"|"Error",
       "error": null | {"code": int, "message": str}, "inUse": [network, ...],
       "bootId": str, "updatedAt": unix seconds}

- ``maintenance/<hostid>`` (manager's CLI): present means maintenance is on.
- ``leader`` (manager): the leader election key.

Engine-follower mode (a policy with ``"master": "engine"``; written by every agent registered
with ``--cluster``, with no lease: they outlive the host's boot):

- ``safe/<hostid>`` (agent): the configuration an engine made safe (``Host.setSafeNetworkConfig``
  or a setupNetworks with ``commitOnSuccess``), in setupNetworks' vocabulary::

      {"networks": {name: attrs}, "bondings": {name: attrs}, "bootId": str,
       "savedAt": unix seconds}

- ``follow/<hostid>`` (agent): the engine's last setupNetworks that applied::

      {"bootId": str, "appliedAt": unix seconds, "flowId": str | null}

  A call whose flow id (STOMP ``ovirtCorrelationId``) starts with ``MANAGER_FLOW_PREFIX`` is the
  manager's own and writes neither key: the manager holds the engine's certificate, so the
  certificate subject cannot tell the two apart.
- ``restore/<hostid>`` (manager): what the follower did for the host's current boot::

      {"bootId": str, "state": "no-safe-config"|"engine-applied"|"waiting"|"restored"|"error",
       "since": unix seconds (the boot first seen), "updatedAt": unix seconds,
       "retryAt": unix seconds, "error": null | {"code": int, "message": str}}
"""

from __future__ import annotations

DEFAULT_PREFIX = "/vdsm-net/"
DEFAULT_HOST_TTL = 5  # seconds: the agent's registration lease

HOSTS = "hosts/"
POLICY = "policy"
ALLOC = "alloc/"
STATE = "state/"
MAINTENANCE = "maintenance/"
LEADER = "leader"
SAFE = "safe/"
FOLLOW = "follow/"
RESTORE = "restore/"
MANAGER_FLOW_PREFIX = "vdsm-net-manager:"

STATES = ("Up", "Applying", "NonOperational", "NonResponsive", "Maintenance", "Error")


def is_manager_flow(flow_id: str | None) -> bool:
    """Whether a call with this flow id came from vdsm-net-manager (not from an engine)."""
    return bool(flow_id) and str(flow_id).startswith(MANAGER_FLOW_PREFIX)


def normalize_prefix(prefix: str) -> str:
    """``/x`` and ``/x/`` are the same prefix; it always ends with one slash."""
    return prefix.rstrip("/") + "/"


def _check_id(value: str, what: str) -> str:
    if not value or "/" in value:
        raise ValueError(f"a {what} is non-empty and has no '/': {value!r}")
    return value


class Keys:
    """The keys under one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = normalize_prefix(prefix)

    def hosts_prefix(self) -> str:
        return self.prefix + HOSTS

    def host(self, host_id: str) -> str:
        return self.hosts_prefix() + _check_id(host_id, "host id")

    def policy(self) -> str:
        return self.prefix + POLICY

    def alloc_prefix(self, network: str | None = None) -> str:
        base = self.prefix + ALLOC
        return base if network is None else base + _check_id(network, "network name") + "/"

    def alloc(self, network: str, host_id: str) -> str:
        return self.alloc_prefix(network) + _check_id(host_id, "host id")

    def state_prefix(self) -> str:
        return self.prefix + STATE

    def state(self, host_id: str) -> str:
        return self.state_prefix() + _check_id(host_id, "host id")

    def maintenance_prefix(self) -> str:
        return self.prefix + MAINTENANCE

    def maintenance(self, host_id: str) -> str:
        return self.maintenance_prefix() + _check_id(host_id, "host id")

    def leader(self) -> str:
        return self.prefix + LEADER

    def safe(self, host_id: str) -> str:
        return self.prefix + SAFE + _check_id(host_id, "host id")

    def follow(self, host_id: str) -> str:
        return self.prefix + FOLLOW + _check_id(host_id, "host id")

    def restore_prefix(self) -> str:
        return self.prefix + RESTORE

    def restore(self, host_id: str) -> str:
        return self.restore_prefix() + _check_id(host_id, "host id")

    def host_id_of(self, key: str, under: str) -> str | None:
        """The last component of ``key`` when it lies directly under the prefix ``under``."""
        if not key.startswith(under):
            return None
        rest = key[len(under):]
        return rest if rest and "/" not in rest else None
