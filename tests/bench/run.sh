#!/bin/bash
# run.sh — `make bench`: kamer and Debian's Janus (VideoRoom) side by side in
# one run, with the same load client (kamer-load) and an ideal forwarder
# (kamer-floor) as the floor. Each server runs alone in its own network
# namespace (tests/bench/netns.sh: 127.0.0.2 over a veth pair), pinned to
# CPU 0; the load client runs in the other namespace pinned to CPU 1. For
# 1:1 rooms and rooms of 4, the number of rooms steps up until the server
# saturates (loss over 1 % or its process at 95 % of the core). The servers
# take turns at each step: Janus, kamer, then the floor, each started
# afresh with fresh rooms, so that slow changes on the host fall on all
# three alike rather than on whichever ran in a bad minute. Results:
# bench/results/<date>.json (raw), .md (the table) and .png (gnuplot).
#
# Usage: tests/bench/run.sh [--quick|--smoke] [--servers janus,kamer,floor] [--scenarios 2,4]
# --smoke (for make check): one 1:1 room against kamer for 10 s; exits 1
# unless media flowed with no loss (correctness only, no timing asserted).
# Environment: BENCH_STEPS_2, BENCH_STEPS_4 (rooms, e.g. 4,8,16), BENCH_WINDOW
# (s), BENCH_NICE (default -10), BENCH_JANUS_LOOPS (default 1), KEEP_TMP=1;
# BENCH_SERVER_WRAP / BENCH_CLIENT_WRAP: a command put before kamer serve /
# the load client (e.g. valgrind --tool=callgrind; see bench/README.md).
# Needs root (network namespaces). Installs janus and gnuplot-nox with
# apt-get when they are missing. Every wait is bounded; everything started
# here is stopped by its PID and the namespaces are removed on exit.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
B=build/release
NICE=${BENCH_NICE:--10} # the same priority for every server and the client

# With sched_autogroup (Debian's default), a process's nice counts only inside
# its session's group; groups share a CPU equally, so other sessions' builds
# on this machine would take the servers' core in slices of 100s of ms. The
# benchmark therefore runs in a session (autogroup) of its own whose nice is
# NICE; the group goes away with the run.
if [ "${KMB_SESSION:-}" != 1 ] && command -v setsid >/dev/null; then
	KMB_SESSION=1 setsid --wait "$0" "$@" &
	child=$!
	trap 'kill -TERM "$child" 2>/dev/null' INT TERM
	wait "$child"
	rc=$?
	[ $rc -gt 128 ] && wait "$child"
	exit $rc
fi
[ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null
QUICK=0
SMOKE=0
SERVERS=janus,kamer,floor
SCENARIOS=2,4
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--smoke) SMOKE=1; QUICK=1; SERVERS=kamer; SCENARIOS=2 ;;
	--servers) SERVERS=$2; shift ;;
	--scenarios) SCENARIOS=$2; shift ;;
	*) echo "usage: $0 [--quick|--smoke] [--servers janus,kamer,floor] [--scenarios 2,4]" >&2; exit 2 ;;
	esac
	shift
done

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	[ $SMOKE = 1 ] && { echo "bench smoke: skipped (needs root for network namespaces)"; exit 0; }
	die "needs root (it makes network namespaces)"
fi
[ "$(nproc)" -ge 2 ] || die "needs two CPUs (server on CPU 0, load client on CPU 1)"

# ---- load steps (rooms) and timing ----
if [ $QUICK = 1 ]; then
	STEPS_2=4,12; STEPS_4=2,4
	WARMUP=1; WINDOW=4; FLOOR_WINDOW=4; JOIN_TIMEOUT=15
	[ $SMOKE = 1 ] && { STEPS_2=1; WINDOW=10; }
else
	STEPS_2=4,16,32,64,96,128,192
	STEPS_4=2,4,8,16,24,32,48
	WARMUP=2; WINDOW=20; FLOOR_WINDOW=10; JOIN_TIMEOUT=60
fi
STEPS_2=${BENCH_STEPS_2:-$STEPS_2}
STEPS_4=${BENCH_STEPS_4:-$STEPS_4}
WINDOW=${BENCH_WINDOW:-$WINDOW}
JANUS_LOOPS=${BENCH_JANUS_LOOPS:-1} # Janus event_loops (0: a thread per handle)

# ---- dependencies ----
need_pkg() { # need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2 (apt-get)"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "$2" >/dev/null ||
		{ timeout 300 apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "$2" >/dev/null; } ||
		die "cannot install $2"
}
[ $SMOKE = 1 ] || need_pkg janus janus
[ $SMOKE = 1 ] || need_pkg gnuplot gnuplot-nox
command -v node >/dev/null || die "node is needed (tools/packages.txt)"

# ---- build (objects come from `make all tools`) ----
tests/bench/build.sh || die "build failed"

# ---- temporary folder, cleanup ----
TMP=$(mktemp -d /tmp/kamer-bench.XXXXXX) || die "mktemp"
chmod 755 "$TMP"
PIDS=()
stop_pid() { # stop_pid PID NAME: TERM, wait (Janus takes > 1 s), then KILL
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		say "$2 (pid $pid) did not stop in 10 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	for p in "${PIDS[@]}"; do stop_pid "$p" "process"; done
	tests/bench/netns.sh down
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tests/bench/netns.sh up || die "network namespaces"
SRV="ip netns exec kmb-srv"
CLI="ip netns exec kmb-cli"

# wait_port PORT: until the server answers TCP from the client namespace (≤ 20 s)
wait_port() {
	local i
	for i in $(seq 1 100); do
		$CLI timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.2/$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# run_load NAME P ROOMS PID WINDOW [ARGS...]: the load client, one step of
# ROOMS rooms joined at once; its JSON line is added to $TMP/NAME.jsonl
run_load() {
	local name=$1 per=$2 rooms=$3 pid=$4 window=$5
	shift 5
	say "$name: $rooms rooms"
	: >"$TMP/step.jsonl"
	$CLI nice -n "$NICE" taskset -c 1 ${BENCH_CLIENT_WRAP:-} "${BENCH_LOAD_BIN:-$B/kamer-load}" --per-room "$per" --steps "$rooms" --server-pid "$pid" \
		--warmup "$WARMUP" --window "$window" --join-timeout "$JOIN_TIMEOUT" --timeout 900 \
		--label "$name" "$@" >"$TMP/step.jsonl" 2>>"$TMP/$name.client.log" &
	local lp=$! rc
	PIDS+=("$lp")
	wait "$lp" # in the background, so that a signal is handled at once
	rc=$?
	cat "$TMP/step.jsonl" >>"$TMP/$name.jsonl"
	[ $rc = 0 ] || { say "$name: load client exit $rc:"; tail -5 "$TMP/$name.client.log" >&2; }
	grep -h '"failure":"[^"]' "$TMP/step.jsonl" | head -1 | sed 's/.*"failure":"\([^"]*\)".*/bench: '"$name"': failure: \1/' >&2
	return 0
}

# went_on: true if the step just measured leaves room for a larger one
# (a step line, not saturated, the load client not at its limit)
went_on() {
	grep -q '"type":"step"' "$TMP/step.jsonl" && ! grep -qE '"(saturated|client_limited)":true' "$TMP/step.jsonl"
}

janus_conf() { # janus_conf DIR
	local d=$1
	mkdir -p "$d/plugins" "$d/transports" "$d/none"
	ln -sf /usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_videoroom.so "$d/plugins/"
	ln -sf /usr/lib/x86_64-linux-gnu/janus/transports/libjanus_websockets.so "$d/transports/"
	cat >"$d/janus.jcfg" <<-EOF
	general: {
		configs_folder = "$d"
		plugins_folder = "$d/plugins"
		transports_folder = "$d/transports"
		events_folder = "$d/none"
		loggers_folder = "$d/none"
		debug_level = 3
		session_timeout = 60
		$([ "$JANUS_LOOPS" -gt 0 ] && echo "event_loops = $JANUS_LOOPS")
		interface = "127.0.0.2"
	}
	certificates: {
	}
	media: {
		ipv6 = false
		rtp_port_range = "20000-40000"
	}
	nat: {
		nice_debug = false
		ignore_mdns = true
		ice_enforce_list = "kmbv-s"
		full_trickle = false
	}
	plugins: {
	}
	transports: {
	}
	events: {
		broadcast = false
	}
	EOF
	cat >"$d/janus.transport.websockets.jcfg" <<-EOF
	general: {
		json = "compact"
		ws = true
		ws_port = 8188
		ws_ip = "127.0.0.2"
		wss = false
	}
	admin: {
		admin_ws = false
		admin_wss = false
	}
	EOF
	printf 'general: {\n\tstring_ids = false\n}\n' >"$d/janus.plugin.videoroom.jcfg"
}

run_janus() { # run_janus P ROOMS
	local d="$TMP/janus-$1" pid
	janus_conf "$d"
	$SRV nice -n "$NICE" taskset -c 0 janus -C "$d/janus.jcfg" -F "$d" >>"$d.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_port 8188 || { tail -20 "$d.log" >&2; die "janus did not answer on 127.0.0.2:8188"; }
	run_load "janus-$1" "$1" "$2" "$pid" "$WINDOW" --server janus --port 8188
	stop_pid "$pid" janus
}

KAMER_USER=${KAMER_BENCH_USER:-kamer-test}
ensure_user() {
	id -u "$KAMER_USER" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$KAMER_USER" ||
		id -u "$KAMER_USER" >/dev/null 2>&1 || die "cannot make user $KAMER_USER"
}

run_kamer() { # run_kamer P ROOMS
	local d="$TMP/kamer-$1-$2" pid
	ensure_user
	mkdir -p "$d/data"
	cat >"$d/data/kamer.conf" <<-EOF
	listen = 127.0.0.2:8443
	log_level = warn
	media_workers = 1
	media_addresses = 127.0.0.2
	http_rate_per_sec = 100000
	http_rate_burst = 100000
	max_connections = 20000
	max_connections_per_ip = 20000
	EOF
	chmod 755 "$d"
	chmod 700 "$d/data"
	chmod 600 "$d/data/kamer.conf"
	chown -R "$KAMER_USER:" "$d/data"
	$SRV nice -n "$NICE" taskset -c 0 env KAMER_USER="$KAMER_USER" ${BENCH_SERVER_WRAP:-} "$B/kamer" serve --data "$d/data" >"$d.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_port 8443 || { tail -20 "$d.log" >&2; die "kamer did not answer on 127.0.0.2:8443"; }
	KAMER_USER="$KAMER_USER" $CLI timeout 300 node tests/bench/kamer_plan.mjs --bin "$B/kamer" --data "$d/data" \
		--host 127.0.0.2 --port 8443 --rooms "$2" --per-room "$1" --out "$d/plan.json" ||
		die "kamer: could not prepare the consults"
	run_load "kamer-$1" "$1" "$2" "$pid" "$WINDOW" --server kamer --port 8443 --plan "$d/plan.json" \
		--ca "$d/data/certs/dev-ca.pem"
	stop_pid "$pid" kamer
	grep -E 'level=(warn|error)' "$d.log" | sort | uniq -c | sort -rn | head -5 >>"$TMP/kamer-$1.warnings"
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$d/data"
}

run_floor() { # run_floor P ROOMS
	local pid
	$SRV nice -n "$NICE" taskset -c 0 "$B/kamer-floor" --port 30000 --client-port 32000 --participants $(($2 * $1)) \
		--per-room "$1" 2>>"$TMP/floor-$1.log" &
	pid=$!
	PIDS+=("$pid")
	sleep 0.3
	run_load "floor-$1" "$1" "$2" "$pid" "$FLOOR_WINDOW" --server floor --port 30000 --floor-client-port 32000
	stop_pid "$pid" floor
}

# At each step, in turn: Janus, kamer, the floor. A server that saturated
# (or whose load client reached its limit) is not measured at larger steps;
# the floor is measured at the steps where a server was.
START=$(date +%s)
DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
for P in ${SCENARIOS//,/ }; do
	case $P in 2) STEPS=$STEPS_2 ;; 4) STEPS=$STEPS_4 ;; *) die "scenarios: 2 or 4 per room" ;; esac
	declare -A on=()
	for v in janus kamer; do [[ ,$SERVERS, == *,$v,* ]] && on[$v]=1; done
	for S in ${STEPS//,/ }; do
		ran=0
		for v in janus kamer; do
			[ -n "${on[$v]:-}" ] || continue
			"run_$v" "$P" "$S"
			ran=1
			went_on || unset "on[$v]"
		done
		[ $ran = 1 ] || [ "$SERVERS" = floor ] || break
		[[ ,$SERVERS, == *,floor,* ]] && run_floor "$P" "$S"
	done
	unset on
done
say "measured in $(($(date +%s) - START)) s"

if [ $SMOKE = 1 ]; then # one room, 10 s: media delivered, nothing lost, every connection AES-256-GCM
	node -e '
const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse).filter((x) => x.type === "step");
const s = l[0], ok = s && s.rooms_ready === 1 && s.rx_packets > 0 && s.loss_pct === 0 && s.streams_missing === 0 &&
  s.failed_participants === 0 && Object.keys(s.srtp).join() === "SRTP_AEAD_AES_256_GCM";
console.log(`bench smoke: ${ok ? "ok" : "FAILED"}: ${s ? `${s.rx_packets} packets, loss ${s.loss_pct} %, srtp ${JSON.stringify(s.srtp)}${s.failure ? ", " + s.failure : ""}` : "no step measured"}`);
process.exit(ok ? 0 : 1);' "$TMP/kamer-2.jsonl"
	exit $?
fi

mkdir -p bench/results
node tests/bench/report.mjs --in "$TMP" --out "bench/results/$DATE" --quick "$QUICK" \
	--kamer-version "$("$B/kamer" --version 2>/dev/null | head -1)" \
	--janus-version "$(dpkg-query -W -f='${Version}' janus 2>/dev/null || echo unknown)"
