#!/bin/bash
# tests/fuzz/run.sh SECONDS — for every harness in build/fuzz/bin/<module>/<name>_fuzz:
# replays its corpus (tests/fuzz/corpus/<name>/, every past crash input kept
# there), then fuzzes for SECONDS (bounded) on a scratch copy of the corpus.
# Prints executions per harness; exits non-zero on any crash.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-15}
rc=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for bin in $(find build/fuzz/bin -type f -name '*_fuzz' 2>/dev/null | sort); do
	name=$(basename "$bin" _fuzz)
	corpus=tests/fuzz/corpus/$name
	mkdir -p "$scratch/$name"
	[ -d "$corpus" ] && cp -r "$corpus/." "$scratch/$name/" 2>/dev/null
	if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus" 2>/dev/null)" ]; then
		if ! "$bin" -runs=0 "$corpus" >"$scratch/$name.replay.log" 2>&1; then
			echo "fuzz $name: corpus replay FAILED"; tail -30 "$scratch/$name.replay.log"; rc=1; continue
		fi
	fi
	if [ "$secs" -gt 0 ]; then
		if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="tests/fuzz/crash-$name-" "$scratch/$name" >"$scratch/$name.log" 2>&1; then
			echo "fuzz $name: CRASH (input saved as tests/fuzz/crash-$name-*; add it to $corpus)"
			tail -40 "$scratch/$name.log"; rc=1; continue
		fi
		execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$name.log" | awk '{print $2}')
		[ -z "$execs" ] && execs=$(grep -oE '#[0-9]+' "$scratch/$name.log" | tail -1 | tr -d '#')
		echo "fuzz $name: ok, ${execs:-?} executions in ${secs}s, corpus $(ls "$scratch/$name" | wc -l) inputs"
	else
		echo "fuzz $name: corpus replay ok"
	fi
done
exit $rc
