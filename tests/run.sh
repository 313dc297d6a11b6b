#!/bin/bash
# tests/run.sh — runs every suite of `make check`, times each, and ends with
# one summary line. Exit status is non-zero if any suite failed.
# Suites: unit tests (release and ASan/UBSan builds), fuzz corpus replay and a
# short bounded fuzz run per harness, integration tests (Node) against the
# ASan build, hostile traffic against the ASan build, browser end-to-end
# tests, the kill -9 crash test against the release build.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
FUZZ_CHECK_SECONDS=${FUZZ_CHECK_SECONDS:-60}
ONLY=${ONLY:-}

passed=0; failed=0; failed_names=""
start_all=$(date +%s)
results=()

suite() { # name, command...
	local name=$1; shift
	if [ -n "$ONLY" ] && [[ "$name" != $ONLY* ]]; then return; fi
	local t0=$(date +%s.%N)
	echo "=== suite $name"
	"$@"
	local rc=$?
	local t1=$(date +%s.%N)
	local dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); results+=("PASS  ${dt}s  $name")
	else
		failed=$((failed + 1)); failed_names="$failed_names $name"; results+=("FAIL  ${dt}s  $name")
	fi
	echo "=== suite $name: $([ $rc -eq 0 ] && echo PASS || echo FAIL) in ${dt}s"
}

run_units() { # mode
	local rc=0 n=0
	for t in $(find "build/$1/tests/unit" -type f -name '*_test' 2>/dev/null | sort); do
		n=$((n + 1))
		if ! "$t"; then echo "FAILED: $t"; rc=1; fi
	done
	[ $n -gt 0 ] || { echo "no unit tests found in build/$1"; return 1; }
	return $rc
}

run_fuzz() {
	tests/fuzz/run.sh "$FUZZ_CHECK_SECONDS"
}

run_integration() {
	KAMER_BIN=${KAMER_BIN:-build/asan/kamer} node --test --test-concurrency=1 tests/integration/
}

run_web() {
	node --test tests/web/
}

run_hostile() {
	KAMER_BIN=${KAMER_BIN:-build/asan/kamer} node --test --test-concurrency=1 tests/hostile/
}

run_e2e() {
	KAMER_BIN=${KAMER_BIN:-build/release/kamer} node --test --test-concurrency=1 tests/e2e/
}

run_crash() {
	KAMER_BIN=build/release/kamer CRASH_TRIALS=${CRASH_TRIALS:-100} node tests/crash/crash_test.mjs &&
		KAMER_BIN=build/release/kamer node --test tests/crash/full_disk.test.mjs
}

# The benchmark's load client: its unit test, and a 10-s run of one 1:1
# room against kamer (correctness only: media delivered, no loss).
run_bench_smoke() {
	tests/bench/build.sh release && build/release/tests/bench/load_test && tests/bench/run.sh --smoke
}

suite unit-release run_units release
suite unit-asan run_units asan
[ -d tests/fuzz ] && [ -n "$(ls tests/fuzz/*/*_fuzz.c 2>/dev/null)" ] && suite fuzz run_fuzz
[ -d tests/web ] && suite web run_web
suite integration run_integration
[ -d tests/hostile ] && suite hostile run_hostile
[ -d tests/e2e ] && suite e2e run_e2e
[ -f tests/crash/crash_test.mjs ] && suite crash run_crash
[ -x tests/bench/run.sh ] && suite bench-smoke run_bench_smoke

end_all=$(date +%s)
echo
echo "--- suite times"
printf '%s\n' "${results[@]}"
echo "kamer check: $((passed + failed)) suites, $passed passed, $failed failed in $((end_all - start_all))s${failed_names:+ (failed:$failed_names)}"
[ $failed -eq 0 ]
