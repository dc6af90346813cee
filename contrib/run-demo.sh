#!/usr/bin/env bash
# `make run` (or `make run PORT=54322`): start vdsm-netd on a demo host that can never be this
# machine's real interfaces.
# As root: a network namespace "vdsm-demo" with veth "NICs" (their peers in "vdsm-demo-peer"),
# managed through --netns, with a boot spec for the management network; Ctrl-C tears it down.
# Not root: the simulated kernel with NICs eth0..eth3.
# It refuses, touching nothing, when PORT (default 54321) is taken or the demo namespaces
# already exist (another `make run` is using them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
PKI=$ROOT/certs/dev
PORT=${PORT:-54321}
NS=vdsm-demo
PEER=vdsm-demo-peer

die() { echo "make run: $*" >&2; exit 1; }

[[ $PORT =~ ^[0-9]+$ ]] || die "PORT=$PORT is not a port number"
if ! "$VENV/bin/python" - "$PORT" <<'PY'
import socket, sys
with socket.socket() as s:
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError as exc:
        sys.exit(f"make run: port {sys.argv[1]} is taken ({exc.strerror}); "
                 f"pick another with 'make run PORT=N'")
PY
then exit 1; fi
DEMO_NETNS=
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    DEMO_NETNS=1
    for ns in "$NS" "$PEER"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            die "network namespace $ns exists (another 'make run'?); left as it is." \
                "Remove it with 'ip netns del $ns' if nothing uses it"
        fi
    done
fi

RUNDIR=$(mktemp -d /tmp/vdsm-net-demo.XXXXXX)
[ -f "$PKI/certs/cacert.pem" ] || "$VENV/bin/vdsm-net-pki" init --out "$PKI" --host-cn localhost

CREATED=
cleanup() {
    if [ -n "$CREATED" ]; then  # only what this run created
        ip netns del "$NS" 2>/dev/null || true
        ip netns del "$PEER" 2>/dev/null || true
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$DEMO_NETNS" ]; then
    ip netns add "$NS"
    CREATED=1
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
"$VENV/bin/vdsm-netd" --listen "127.0.0.1:$PORT" --pki "$PKI" "${BACKEND[@]}" \
    --boot-spec "$RUNDIR/boot.json" &
AGENT=$!
trap 'kill $AGENT 2>/dev/null; wait $AGENT 2>/dev/null; exit 0' INT TERM
# say "listening" only once it is: the port accepts connections (or the agent has died)
for _ in $(seq 300); do
    kill -0 "$AGENT" 2>/dev/null || { wait "$AGENT"; exit $?; }
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
C="$VENV/bin/vdsm-net-client --pki $PKI -a 127.0.0.1 -p $PORT"
STOP="Ctrl-C stops the agent."
[ -z "$DEMO_NETNS" ] || STOP="Ctrl-C stops the agent and removes the demo namespaces."
cat <<MSG
vdsm-net demo on $WHERE, listening on 127.0.0.1:$PORT. Try, in another shell:
  $C show
  $C Host -h
  $C -f $RUNDIR/net.json Host planNetworks     # the dry run (an extension)
  $C -f $RUNDIR/net.json Host setupNetworks
  $C check
  $C -f $RUNDIR/remove.json Host setupNetworks
$STOP (make run PORT=N picks another port.)
MSG
wait $AGENT
