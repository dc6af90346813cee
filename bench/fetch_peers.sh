#!/bin/bash
# The peer tools of bench_peers.py (issue 17): Debian's ifupdown2 and network-manager, with the
# dependencies this machine lacks, downloaded as .debs and unpacked (dpkg -x) under
# .cache/peers/root. Nothing is installed: no maintainer script or service runs on this machine,
# so its own networking is never touched; the bench runs them from the cache inside the guest.
#   bench/fetch_peers.sh [DEST]   (default .cache/peers; a stamp file makes it run once)
set -eu -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=${1:-$HERE/../.cache/peers}
PACKAGES="ifupdown2 network-manager"
STAMP="$DEST/.fetched"
[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ] && exit 0
mkdir -p "$DEST/debs" "$DEST/root"
cd "$DEST/debs"
# what `apt-get install` would bring in, without installing anything (a dry run's URI list)
uris=$(apt-get install -qq --print-uris --no-install-recommends $PACKAGES 2>/dev/null) || {
  [ "$(id -u)" = 0 ] && apt-get update -qq
  uris=$(apt-get install -qq --print-uris --no-install-recommends $PACKAGES)
}
names=$(awk '{print $2}' <<<"$uris" | sed 's/_.*//')
[ -n "$names" ] || { echo "fetch_peers: apt lists no package for $PACKAGES" >&2; exit 1; }
apt-get download -qq $names
for deb in ./*.deb; do dpkg -x "$deb" "$DEST/root"; done
echo "$PACKAGES" >"$STAMP"
echo "fetch_peers: $(ls ./*.deb | wc -l) packages unpacked under $DEST/root"
