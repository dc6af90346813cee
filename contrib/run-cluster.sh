#!/usr/bin/env bash
# `make run-cluster`: a stateless cluster on this machine, never on its real interfaces.
# etcd (one member, data under a temporary directory), three hosts and two vdsm-net-managers.
# As root, each host is a network namespace whose veth NICs eth0..eth2 are wired to a "switch"
# namespace's bridge, and its vdsm-netd boots from a dracut command line file with only the
# management network (--netns, --cmdline). Without root the hosts are simulated kernels.
# Sets a demo policy, waits for the hosts to be Up, prints `vdsm-net-manager hosts` and commands
# to try; Ctrl-C stops everything and removes the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
BIN=$VENV/bin
PKI=certs/dev
BASE_PORT=${BASE_PORT:-54330}
RUNDIR=$(mktemp -d /tmp/vdsm-net-cluster.XXXXXX)
TAG=vnclu
HOSTS="h1 h2 h3"
PIDS=()
[ -f "$PKI/certs/cacert.pem" ] || "$BIN/vdsm-net-pki" init --out "$PKI" --host-cn localhost >/dev/null
command -v etcd >/dev/null || { echo "run-cluster: no etcd (apt-get install etcd-server)" >&2; exit 1; }

NETNS=
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && NETNS=1

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$NETNS" ]; then
        for h in $HOSTS sw probe; do ip netns del "$TAG-$h" 2>/dev/null || true; done
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'echo; echo "stopping the cluster"; exit 0' INT TERM

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Does this kernel have bonding and 802.1Q? (probed in a throwaway namespace)
kernel_has_bond_vlan() {
    [ -n "$NETNS" ] || return 0  # the simulated kernel has both
    ip netns add "$TAG-probe"
    local ok=0
    ip -n "$TAG-probe" link add b0 type bond 2>/dev/null || ok=1
    ip -n "$TAG-probe" link add d0 type dummy 2>/dev/null \
        && { ip -n "$TAG-probe" link add link d0 name d0.5 type vlan id 5 2>/dev/null || ok=1; }
    ip netns del "$TAG-probe"
    return $ok
}

# -- etcd ------------------------------------------------------------------------------------
CPORT=$(free_port); PPORT=$(free_port)
ETCD=http://127.0.0.1:$CPORT
etcd --name demo --data-dir "$RUNDIR/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
    --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
    --initial-cluster "demo=http://127.0.0.1:$PPORT" >"$RUNDIR/etcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    "$BIN/vdsm-net-manager" --etcd "$ETCD" hosts >/dev/null 2>&1 && break
    sleep 0.2
done

# -- hosts -----------------------------------------------------------------------------------
if [ -n "$NETNS" ]; then
    for h in $HOSTS sw; do ip netns del "$TAG-$h" 2>/dev/null || true; done
    ip netns add "$TAG-sw"
    ip -n "$TAG-sw" link add sw0 type bridge
    ip -n "$TAG-sw" link set sw0 up
fi
i=0
for h in $HOSTS; do
    i=$((i + 1))
    port=$((BASE_PORT + i))
    echo "bridge=ovirtmgmt:eth0 ip=10.77.0.1$i:::24::ovirtmgmt:none vdsm_net.cluster=$ETCD" \
        >"$RUNDIR/cmdline-$h"
    if [ -n "$NETNS" ]; then
        ip netns add "$TAG-$h"
        ip -n "$TAG-$h" link set lo up
        for n in 0 1 2; do
            ip link add "eth$n" netns "$TAG-$h" type veth peer name "$h-eth$n" netns "$TAG-sw"
            ip -n "$TAG-sw" link set "$h-eth$n" master sw0 up
        done
        KERNEL=(--netns "$TAG-$h")
    else
        KERNEL=(--backend memory --nics eth0,eth1,eth2)
    fi
    VDSM_NET_DHCP_RUN_DIR=$RUNDIR/dhcp-$h "$BIN/vdsm-netd" "${KERNEL[@]}" --pki "$PKI" \
        --listen "127.0.0.1:$port" --advertise "127.0.0.1:$port" --cmdline "$RUNDIR/cmdline-$h" \
        --host-id "$h" >"$RUNDIR/agent-$h.log" 2>&1 &
    PIDS+=($!)
done

# -- managers and the demo policy -------------------------------------------------------------
for m in m1 m2; do
    "$BIN/vdsm-net-manager" run --etcd "$ETCD" --id "$m" --pki "$PKI" --resync 10 \
        >"$RUNDIR/manager-$m.log" 2>&1 &
    PIDS+=($!)
done
if kernel_has_bond_vlan; then
    cat >"$RUNDIR/policy.json" <<JSON
{"networks": {"data": {"bonding": "bond0", "vlan": 100, "bridged": false,
                       "ipv4pool": "10.88.0.0/24", "required": true},
              "vmnet": {"bonding": "bond0", "vlan": 200, "bridged": true}},
 "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=active-backup miimon=100"}}}
JSON
    SHAPE="a bond of eth1+eth2, VLAN 100 with a pool address, a bridged VM network on VLAN 200"
else
    cat >"$RUNDIR/policy.json" <<JSON
{"networks": {"data": {"nic": "eth1", "bridged": false, "ipv4pool": "10.88.0.0/24",
                       "required": true},
              "vmnet": {"nic": "eth2", "bridged": true}}}
JSON
    SHAPE="this kernel has no bonding/802.1Q: 'data' with a pool address on eth1, a bridged VM network on eth2"
fi
"$BIN/vdsm-net-manager" --etcd "$ETCD" policy set -f "$RUNDIR/policy.json"

up() {
    "$BIN/vdsm-net-manager" --etcd "$ETCD" hosts --json | "$VENV/bin/python" -c \
        'import json, sys; rows = json.load(sys.stdin); sys.exit(0 if len(rows) == 3 and all(r["state"] == "Up" for r in rows) else 1)'
}
for _ in $(seq 240); do up && break; sleep 0.5; done

M="$BIN/vdsm-net-manager --etcd $ETCD"
echo
echo "vdsm-net cluster: etcd at $ETCD, managers m1 and m2, hosts $HOSTS; policy: $SHAPE."
$M hosts
cat <<MSG

Logs and files are in $RUNDIR. Try, in another shell:
  $M hosts --json
  $M leader
  $M policy get
  $M policy set -f $RUNDIR/policy.json           # edit it first: add or remove a network
  $M maintenance h1 on                          # then change the policy, then: off
MSG
if [ -n "$NETNS" ]; then
    ADDR2=$(ip -n "$TAG-h2" -o -4 addr show | awk '$4 ~ /^10\.88\./ {split($4, a, "/"); print a[1]; exit}')
    cat <<MSG
  ip -n $TAG-h1 -br addr                              # a host's kernel
  ip netns exec $TAG-h1 busybox ping -c 2 ${ADDR2:-10.88.0.2}   # h1 to h2 over the data network
  ip -n $TAG-sw link set h3-eth1 down                 # a host's required link down: NonOperational
  kill -STOP <agent pid>                              # NonResponsive (agents: ${PIDS[*]:1:3})
MSG
fi
echo "Ctrl-C stops the cluster and removes the namespaces."
wait
