"""The manager's man page, generated from its argparse definition like the agent's.

    python -m autonomic.manpage OUTDIR     writes vdsm-net-manager.8
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from autonomic.cli import _parser
from vdsm_net.ops.manpage import Page, render


def page() -> Page:
    return Page(
        "vdsm-net-manager", 8, "autonomic cluster manager for vdsm-net hosts", [_parser()],
        {"DESCRIPTION OF RUN": "Two or more 'run' processes share one etcd; one leads (an etcd "
                               "lease), the others stand by and take over within the lease TTL. "
                               "The leader pushes the policy to every registered host that is "
                               "not in maintenance, over vdsm's wire with the engine "
                               "certificate. At most --parallel hosts are visited at once and "
                               "at most --rate pushes start a second (a token bucket whose "
                               "burst is one second's worth), so that a thousand hosts "
                               "joining at once overrun neither etcd nor the hosts; with a "
                               "1000-host fleet the defaults (32, 50) converged all joins in "
                               "26 s and a policy change in 22 s on a shared 2-core machine "
                               "(bench/bench_fleet.py). With \"master\": \"engine\" in the "
                               "policy it pushes no policy: a host that rebooted gets the "
                               "configuration the engine last made safe (kept in etcd by its "
                               "agent) when no engine applied anything within restoreGrace "
                               "seconds.",
         "EXIT STATUS": "0 after a clean stop or a command done; 1 on an error (a refused "
                        "policy, no etcd member reachable, a missing PKI), one line on stderr; "
                        "2 on a bad flag.",
         "FILES": "Nothing on the manager's machine but /etc/pki/vdsm (certs/enginecert.pem, "
                  "keys/enginekey.pem, certs/cacert.pem) and /etc/default/vdsm-net-manager "
                  "(VDSM_NET_MANAGER_ARGS for the unit); everything else lives in etcd.",
         "SEE ALSO": "vdsm-netd(8), vdsm-net-client(1), vdsm-net-pki(1), etcd(1)"})


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m autonomic.manpage OUTDIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    path = out / "vdsm-net-manager.8"
    path.write_text(render(page()), encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
