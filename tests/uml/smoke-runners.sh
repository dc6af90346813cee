#!/bin/bash
# Boot the smoke tier (tests/guest) once with every runner this machine allows; list the others
# with the reason they cannot run here. Fails when any allowed runner fails, or when none is allowed.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 1
LIST=$(.venv/bin/python -m tests.uml available) || { echo "smoke-runners: FAILURE: cannot list the runners" >&2; exit 1; }
rc=0
ran=0
while IFS=$'\t' read -r runner ok why; do
  if [ "$ok" != yes ]; then
    echo "smoke-runners: $runner cannot run on this machine: $why"
    continue
  fi
  ran=$((ran + 1))
  if VDSM_NET_TIER_RUNNER=$runner tests/uml/run-tier.sh tests/guest -q; then
    echo "smoke-runners: $runner: passed"
  else
    echo "smoke-runners: FAILURE: $runner: the smoke tier failed" >&2
    rc=1
  fi
done <<<"$LIST"
[ "$ran" -gt 0 ] || { echo "smoke-runners: FAILURE: no runner can run on this machine" >&2; exit 1; }
exit $rc
