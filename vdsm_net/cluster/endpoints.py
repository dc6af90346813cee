"""etcd endpoints: ``--cluster URL[,URL]`` and ``--etcd`` take ``http://host:port``,
``host:port`` or ``[v6]:port`` (default port 2379). No client library is needed to parse them, so
the agent reads its flags (and refuses bad ones) whether or not the etcd client is installed.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from dataclasses import dataclass

DEFAULT_PORT = 2379
CALL_TIMEOUT = 2  # seconds for any one etcd call: a stopped member must not hang the caller
CLIENT_LIBRARY = "aetcd"


def require_client_library() -> None:
    """ValueError, with what to do, when the etcd client (aetcd, not packaged by Debian 12)
    is not installed: the cluster parts need it, nothing else does."""
    if importlib.util.find_spec(CLIENT_LIBRARY) is None:
        raise ValueError(f"the cluster needs the etcd client library {CLIENT_LIBRARY!r} "
                         f"(pip install {CLIENT_LIBRARY}, or vdsm-net's 'cluster' extra)")


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
