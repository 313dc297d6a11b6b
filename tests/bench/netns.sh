#!/bin/bash
# netns.sh — the benchmark's network: two network namespaces joined by one
# veth pair that carries 127.x addresses, so that kamer, Janus (which skips
# loopback interfaces when it gathers ICE candidates) and the floor forwarder
# all see the same path: the server end 127.0.0.2/32 in KMB_SRV, the client
# end 127.0.0.3/32 in KMB_CLI, no other route. Inside each namespace the
# local 127.0.0.0/8 route is replaced by 127.0.0.1/32 (else the peer's 127.x
# address counts as local), route_localnet is on, rp_filter off, and the
# neighbours are static.
#
# Usage: netns.sh up | down | status. `up` is idempotent (it tears down a
# half-made setup first); `down` removes everything and never fails.
set -u
SRV=${KMB_SRV:-kmb-srv}
CLI=${KMB_CLI:-kmb-cli}
VS=${KMB_VETH_SRV:-kmbv-s}
VC=${KMB_VETH_CLI:-kmbv-c}
SRV_IP=127.0.0.2
CLI_IP=127.0.0.3

down() {
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip link del "$VS" 2>/dev/null
	ip link del "$VC" 2>/dev/null
	return 0
}

# side NS DEV MYIP PEERIP PEERMAC
side() {
	local ns=$1 dev=$2 me=$3 peer=$4 mac=$5
	local x="ip netns exec $ns"
	$x ip link set lo up || return 1
	$x ip link set "$dev" up || return 1
	$x ip addr add "$me/32" dev "$dev" || return 1
	$x ip route del local 127.0.0.0/8 dev lo table local 2>/dev/null
	$x ip route replace local 127.0.0.1 dev lo table local || return 1
	for k in all default lo "$dev"; do
		$x sysctl -qw "net.ipv4.conf.$k.route_localnet=1" || return 1
		$x sysctl -qw "net.ipv4.conf.$k.rp_filter=0" || return 1
	done
	$x ip route replace "$peer/32" dev "$dev" src "$me" || return 1
	$x ip neigh replace "$peer" lladdr "$mac" dev "$dev" nud permanent || return 1
	return 0
}

up() {
	down
	ip netns add "$SRV" && ip netns add "$CLI" || return 1
	ip link add "$VS" type veth peer name "$VC" || return 1
	ip link set "$VS" netns "$SRV" && ip link set "$VC" netns "$CLI" || return 1
	local ms mc
	ms=$(ip netns exec "$SRV" cat "/sys/class/net/$VS/address") || return 1
	mc=$(ip netns exec "$CLI" cat "/sys/class/net/$VC/address") || return 1
	side "$SRV" "$VS" "$SRV_IP" "$CLI_IP" "$mc" || return 1
	side "$CLI" "$VC" "$CLI_IP" "$SRV_IP" "$ms" || return 1
	# reachable: a TCP connect to a closed port is refused, not timed out
	ip netns exec "$CLI" timeout 3 bash -c "exec 3<>/dev/tcp/$SRV_IP/9" 2>&1 | grep -q refused ||
		{ echo "netns: $CLI cannot reach $SRV_IP" >&2; return 1; }
	return 0
}

case "${1:-}" in
up) up || { echo "netns.sh: setup failed" >&2; down; exit 1; } ;;
down) down ;;
status)
	for ns in "$SRV" "$CLI"; do
		echo "== $ns"
		ip netns exec "$ns" ip -br addr 2>/dev/null
		ip netns exec "$ns" ip route show table all 2>/dev/null | grep -v '^ff\|^fe\|ipv6' | head -20
	done ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
