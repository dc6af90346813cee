"""Guest runners for the kernel, e2e and cluster tiers (called by tests/uml/run-tier.sh).

    python -m tests.uml choose                 # prints RUNNER<TAB>why
    python -m tests.uml prepare [RUNNER]       # installs/builds what RUNNER (or the choice) needs
    python -m tests.uml modroot RUNNER WORK    # the directory for modprobe -d
    python -m tests.uml boot RUNNER INIT [TIMEOUT]
    python -m tests.uml available              # RUNNER<TAB>yes|no<TAB>why: what this machine allows

Exit status 1 with one line on stderr when a runner cannot be chosen or prepared.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.uml import assets, boot, choose

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "guest"


def _main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    verb, args = argv[0], argv[1:]
    if verb == "choose":
        c = choose.cached_choice(CACHE)
        print(f"{c.runner}\t{c.reason}")
    elif verb == "prepare":
        runner = args[0] if args else choose.cached_choice(CACHE).runner
        boot.command(runner, Path("/sbin/init"), CACHE)
        print(runner)
    elif verb == "modroot" and len(args) == 2:
        print(boot.modroot(args[0], CACHE, Path(args[1])))
    elif verb == "boot" and len(args) in (2, 3):
        timeout = float(args[2]) if len(args) == 3 else 1800.0
        return boot.boot(args[0], Path(args[1]), CACHE, timeout)
    elif verb == "available":
        for runner, why in choose.allowed(choose.RealMachine(CACHE)):
            print(f"{runner}\t{'yes' if why is None else 'no'}\t{why or ''}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


def main() -> int:
    try:
        return _main(sys.argv[1:])
    except (choose.ChoiceError, assets.AssetError) as exc:
        print(f"run-tier: FAILURE: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
