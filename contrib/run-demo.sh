#!/usr/bin/env bash
# `make run`: start vdsm-netd on a demo host that can never be this machine's real interfaces.
# As root: a network namespace "vdsm-demo" with veth "NICs" (their peers in "vdsm-demo-peer"),
# managed through --netns, with a boot spec for the management network; Ctrl-C tears it down.
# Not root: the simulated kernel with NICs eth0..eth3.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PKI=certs/dev
PORT=${PORT:-54321}
RUNDIR=$(mktemp -d /tmp/vdsm-net-demo.XXXXXX)
[ -f "$PKI/certs/cacert.pem" ] || "$VENV/bin/vdsm-net-pki" init --out "$PKI" --host-cn localhost

NS=vdsm-demo
PEER=vdsm-demo-peer
cleanup() {
    if [ -n "${NETNS:-}" ]; then
        ip netns del "$NS" 2>/dev/null || true
        ip netns del "$PEER" 2>/dev/null || true
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    NETNS=1
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$PEER" 2>/dev/null || true
    ip netns add "$NS"
    ip netns add "$PEER"
    for i in 0 1 2 3; do
        ip link add "veth_d$i" netns "$NS" type veth peer name "peer$i" netns "$PEER"
        ip -n "$PEER" link set "peer$i" up
    done
    ip -n "$NS" link set lo up
    NIC0=veth_d0 NIC1=veth_d1
    BACKEND=(--backend netlink --netns "$NS")
    WHERE="network namespace $NS (veth NICs veth_d0..veth_d3)"
else
    NIC0=eth0 NIC1=eth1
    BACKEND=(--backend memory --nics eth0,eth1,eth2,eth3)
    WHERE="the simulated kernel (not root; NICs eth0..eth3)"
fi

cat >"$RUNDIR/boot.json" <<JSON
{"networks": {"ovirtmgmt": {"nic": "$NIC0", "bridged": true, "ipaddr": "192.0.2.10",
                            "prefix": "24", "gateway": "192.0.2.1", "defaultRoute": true}},
 "bondings": {}}
JSON
cat >"$RUNDIR/net.json" <<JSON
{"networks": {"vmnet": {"nic": "$NIC1", "bridged": "true", "mtu": 1500}},
 "bondings": {}, "options": {"connectivityCheck": "false"}}
JSON
cat >"$RUNDIR/remove.json" <<JSON
{"networks": {"vmnet": {"remove": "true"}}, "bondings": {}, "options": {"connectivityCheck": "false"}}
JSON
C="$VENV/bin/vdsm-net-client --pki $PKI -a 127.0.0.1 -p $PORT"
cat <<MSG
vdsm-net demo on $WHERE, listening on 127.0.0.1:$PORT. Try, in another shell:
  $C Host getCapabilities
  $C -f $RUNDIR/net.json Host planNetworks     # the dry run (an extension)
  $C -f $RUNDIR/net.json Host setupNetworks
  $C -f $RUNDIR/remove.json Host setupNetworks
Ctrl-C stops the agent and removes the demo namespaces.
MSG
"$VENV/bin/vdsm-netd" --listen "127.0.0.1:$PORT" --pki "$PKI" "${BACKEND[@]}" \
    --boot-spec "$RUNDIR/boot.json" &
AGENT=$!
trap 'kill $AGENT 2>/dev/null; wait $AGENT 2>/dev/null; exit 0' INT TERM
wait $AGENT
