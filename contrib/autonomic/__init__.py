"""vdsm-net-manager: the autonomic cluster manager (issue 13, items 4-9).

Everything it knows lives in etcd under the agent's key contract (``vdsm_net/cluster/keys.py``):
the policy, the host registry (written by the agents), address allocations, host states. A manager
process keeps no file; any replica can lead.

Policy (``policy set -f FILE``; see ``policy.py``): vdsm's ``setupNetworks`` vocabulary for the
whole cluster, plus ``ipv4pool``/``ipv6pool`` (a CIDR instead of ``ipaddr``/``netmask`` or
``ipv6addr``: each host gets its own address, kept in ``alloc/<network>/<hostid>`` so it comes
back after a reboot; the pool's first address and the network's gateway are never given),
``required: true`` (a critical network), ``hosts: {ID: {nics: {policyNic: hostNic}}}`` and
``options: {connectivityTimeout: S}``. A host's boot management network is its own: every push
keeps it as registered; a policy may name it only to add ``mtu``, ``stp``, ``custom``,
``hostQos`` or ``required``. ``policy set`` runs the agent's own canonicalize and validate on the
policy rendered for a simulated host (and for each host under ``hosts``) and stores nothing when
it fails (vdsm's code and message, exit 1).

Reconcile (``reconcile.py``): the leader visits a host when it (re)registers, the policy or its
maintenance flag changes, it sends ``|net|host_conn|no_id``, a retry is due or its resync
(``--resync``, default 60 s) comes. A visit renders the policy for the host, compares it with the
host's ``Host.getNetworkCapabilities`` and pushes only a difference: ``Host.setupNetworks`` with
``fullState: true`` and the connectivity check, confirmed with ``Host.confirmConnectivity`` over
the same connection while the call waits, then ``Host.setSafeNetworkConfig``. Up to
``--parallel`` hosts (default 8) are visited at once, each on its own.

States (``machine.py``, in ``state/<hostid>``): ``Up``; ``Applying`` (a push under way, or the
host answered 40 and it is retried with a backoff); ``Error`` (the host refused: its code and
message; retried with a backoff, at once on a new policy or boot; 1003 when a push answered Done
but the look right after it still finds differences); ``NonOperational`` (a required network
the host has is down on its NIC or bond: nothing pushed, looked at again every 3 s);
``NonResponsive`` (not registered or not reachable: nothing pushed; reconciled when back);
``Maintenance`` (nothing pushed; the policy is applied when it goes active). Networks a host
keeps because VMs use them (``keptInUse``) are its ``inUse``, never forced and never a reason to
push again.

High availability (``leader.py``): the ``leader`` key under the leader's lease (``--lease-ttl``,
default 5 s, kept alive every TTL/3). A standby watches that key and campaigns the moment it
expires. Every leader write is a transaction conditioned on the key still holding the leader's
value, and a push first takes ``lock/<hostid>`` under the leader's lease: two managers never push
to one host at once, and a SIGKILLed leader's lock goes with its lease.

Engine-follower mode (``follower.py``): with ``"master": "engine"`` the manager pushes no
policy; a host that rebooted gets the configuration the engine last made safe (``safe/<hostid>``,
written by its agent) when no engine applied anything within ``restoreGrace`` seconds (default
60), recorded per boot in ``restore/<hostid>``. The manager's calls carry a
``vdsm-net-manager:`` flow id so that the agent records only the engine's.

Layers: ``policy``/``render``/``pools``/``compare``/``machine`` are pure (or behind the ``Store``
port of ``store.py``, with an in-memory fake on a fake clock); ``etcd`` and ``hostport`` are the
adapters to etcd (aetcd) and to vdsm's wire (``rpc.client``, the engine certificate from
``--pki``); ``reconcile`` (with ``follower``), ``leader``, ``manager`` and ``cli`` drive them.
"""
