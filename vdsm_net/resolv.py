"""The host's DNS servers, read (never written) from the resolver file."""

from __future__ import annotations

RESOLV_CONF = "/etc/resolv.conf"


def host_nameservers(path: str = RESOLV_CONF) -> list[str]:
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
