"""The host's DNS servers, read (never written) from the resolver file."""

from __future__ import annotations

import os

RESOLV_CONF = "/etc/resolv.conf"
RESOLV_ENV = "VDSM_NET_RESOLV_CONF"  # tests point this at a temp file


def host_nameservers(path: str | None = None) -> list[str]:
    path = path or os.environ.get(RESOLV_ENV) or RESOLV_CONF
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            out.append(fields[1])
    return out
