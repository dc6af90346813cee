"""etcd endpoints and clients (aetcd, the etcd v3 gRPC API; etcd 3.4 and later).

``--cluster URL[,URL]`` takes ``http://host:port``, ``host:port`` or ``[v6]:port`` (default port
2379). aetcd talks to one endpoint per client, so a caller that loses one moves on to the next
with a fresh client (a fresh gRPC channel: an old one may sit in gRPC's reconnect backoff for
minutes after the member came back).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import aetcd

DEFAULT_PORT = 2379
CALL_TIMEOUT = 2  # seconds for any one etcd call: a stopped member must not hang the caller

# What a lost or unhealthy etcd looks like through aetcd (grpc errors are mapped to ClientError;
# a timeout while connecting can surface as asyncio's own).
ETCD_ERRORS: tuple[type[BaseException], ...] = (aetcd.ClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class Endpoint:
    host: str  # an IPv6 address keeps its brackets: it is used as "host:port"
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"etcd URL {url!r}: only http:// is supported")
    if parts.path not in ("", "/") or parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"etcd URL {url!r}: the form is [http://]HOST[:PORT]")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"etcd URL {url!r}: bad port") from None
    host = parts.hostname
    return Endpoint(f"[{host}]" if ":" in host else host, port)


def parse_endpoints(urls: str | list[str]) -> list[Endpoint]:
    """``URL[,URL...]`` (or a list of them), in order; at least one."""
    items = urls.split(",") if isinstance(urls, str) else urls
    out = [parse_endpoint(u) for u in items if u.strip()]
    if not out:
        raise ValueError("no etcd URL given")
    return out


def make_client(endpoint: Endpoint, timeout: int = CALL_TIMEOUT) -> aetcd.Client:
    return aetcd.Client(host=endpoint.host, port=endpoint.port, timeout=timeout)
