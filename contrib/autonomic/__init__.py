"""vdsm-net-manager: the autonomic cluster manager (issue 13, items 4-9).

Everything it knows lives in etcd (policy, host registry, address allocations, host states); a
manager process keeps no file. One of several ``run`` processes leads (an etcd lease); the leader
renders the cluster policy per registered host and drives each host through vdsm's own verbs
(``Host.setupNetworks`` with ``fullState``, the connectivity check, ``Host.setSafeNetworkConfig``).

Layers: ``policy``/``render``/``pools``/``compare``/``machine`` are pure (or behind the ``Store``
port); ``etcd`` and ``hostport`` are the adapters to etcd and to the vdsm wire; ``reconcile``,
``leader`` and ``cli`` drive them.
"""
