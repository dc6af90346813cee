"""The host's DNS servers, read (never written) from the resolver file.

Only lines that hold one valid nameserver address count (``names.nameserver_problem``): a line
the agent would refuse on the wire never becomes a default that it then writes back.
"""

from __future__ import annotations

import os

from vdsm_net.model.names import nameserver_problem

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
        if len(fields) >= 2 and fields[0] == "nameserver" and not nameserver_problem(fields[1]):
            out.append(fields[1])
    return out
