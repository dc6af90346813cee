"""etcd clients (aetcd, the etcd v3 gRPC API; etcd 3.4 and later).

aetcd talks to one endpoint per client, so a caller that loses one moves on to the next with a
fresh client (a fresh gRPC channel: an old one may sit in gRPC's reconnect backoff for minutes
after the member came back). Only the cluster parts import this module (the endpoints are in
``endpoints``): aetcd is not in Debian 12, and the agent runs without it.
"""

from __future__ import annotations

import aetcd

from vdsm_net.cluster.endpoints import CALL_TIMEOUT, Endpoint

# What a lost or unhealthy etcd looks like through aetcd (grpc errors are mapped to ClientError;
# a timeout while connecting can surface as asyncio's own).
ETCD_ERRORS: tuple[type[BaseException], ...] = (aetcd.ClientError, OSError, TimeoutError)


def make_client(endpoint: Endpoint, timeout: int = CALL_TIMEOUT) -> aetcd.Client:
    return aetcd.Client(host=endpoint.host, port=endpoint.port, timeout=timeout)
