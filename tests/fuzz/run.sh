#!/bin/bash
# tests/fuzz/run.sh [SECONDS] — for every harness in build/fuzz/bin/<module>/<name>_fuzz:
# replays its corpus (tests/fuzz/corpus/<name>/, every past crash input kept
# there), then fuzzes for SECONDS on a scratch copy of the corpus. Runs
# FUZZ_JOBS harnesses at a time (default 2, one per core), so that the whole
# run takes about N/FUZZ_JOBS x SECONDS. Prints one line per harness, e.g.
#   fuzz sdp: ok, 1234567 executions in 60s, corpus 40 -> 52
# (corpus = inputs before and after: what the run found). Exits non-zero on
# any crash, replay failure or overrun. SECONDS=0 only replays.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-15}
jobs=${FUZZ_JOBS:-2}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A harness that outlives its time (a hang libFuzzer's -timeout missed) is
# killed: replay and start-up get 5 minutes beyond the fuzzing time.
limit=$((secs + 300))

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# One harness; its result line (and the log's tail on failure) goes to
# $scratch/<name>.out, its status to $scratch/<name>.rc.
run_one() {
	local bin=$1 name corpus out rc=0
	name=$(basename "$bin" _fuzz)
	corpus=tests/fuzz/corpus/$name
	out=$scratch/$name.out
	mkdir -p "$scratch/$name"
	[ -d "$corpus" ] && cp -r "$corpus/." "$scratch/$name/" 2>/dev/null
	if [ "$(count "$corpus")" -gt 0 ]; then
		if ! timeout -k 10 "$limit" "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 "$corpus" \
			>"$scratch/$name.replay.log" 2>&1; then
			{ echo "fuzz $name: corpus replay FAILED"; tail -30 "$scratch/$name.replay.log"; } >"$out"
			echo 1 >"$scratch/$name.rc"
			return
		fi
	fi
	if [ "$secs" -le 0 ]; then
		echo "fuzz $name: corpus replay ok, corpus $(count "$corpus")" >"$out"
		echo 0 >"$scratch/$name.rc"
		return
	fi
	local before after execs
	before=$(count "$scratch/$name")
	timeout -k 10 "$limit" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="tests/fuzz/crash-$name-" "$scratch/$name" >"$scratch/$name.log" 2>&1
	rc=$?
	after=$(count "$scratch/$name")
	if [ $rc -ne 0 ]; then
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			echo "fuzz $name: OVERRAN ${limit}s and was killed" >"$out"
		else
			echo "fuzz $name: CRASH (input saved as tests/fuzz/crash-$name-*; add it to $corpus)" >"$out"
		fi
		tail -40 "$scratch/$name.log" >>"$out"
		echo 1 >"$scratch/$name.rc"
		return
	fi
	execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$name.log" | awk '{print $2}')
	[ -z "$execs" ] && execs=$(grep -oE '#[0-9]+' "$scratch/$name.log" | tail -1 | tr -d '#')
	echo "fuzz $name: ok, ${execs:-?} executions in ${secs}s, corpus $before -> $after" >"$out"
	echo 0 >"$scratch/$name.rc"
}

bins=$(find build/fuzz/bin -type f -name '*_fuzz' 2>/dev/null | sort)
if [ -z "$bins" ]; then
	echo "fuzz: no harnesses in build/fuzz/bin (make fuzz-build)"
	exit 1
fi
n=0
for bin in $bins; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$bin" &
	n=$((n + 1))
done
wait

rc=0
for bin in $bins; do
	name=$(basename "$bin" _fuzz)
	if [ -f "$scratch/$name.out" ]; then
		cat "$scratch/$name.out"
	else
		echo "fuzz $name: no result"
	fi
	[ "$(cat "$scratch/$name.rc" 2>/dev/null)" = 0 ] || rc=1
done
echo "fuzz: $n harnesses, $jobs at a time, ${secs}s each: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
exit $rc
