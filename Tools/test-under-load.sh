#!/usr/bin/env bash
# Runs `make test` N times in a row (default 10) while a CPU hog keeps every core busy, and reports each run's result.
# The gate must not flake on a busy machine: this is how we check it. Logs: .build/under-load/run-K.log.
#
# Usage: Tools/test-under-load.sh [N]
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]  (N >= 1 runs)" >&2; exit 2; }
logs=.build/under-load
mkdir -p "$logs"

# One busy loop per core, at the same priority as the tests: every test process competes for the CPU.
hogs=()
stop_hogs() {
    ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null
    wait "${hogs[@]}" 2>/dev/null
    hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
cores="$(nproc)"
for _ in $(seq "$cores"); do
    bash -c 'while :; do :; done' &
    hogs+=("$!")
done
echo "under load: $cores CPU hogs running (pids ${hogs[*]}); $runs runs of make test"

passed=0
failed=0
for run in $(seq "$runs"); do
    log="$logs/run-$run.log"
    started=$SECONDS
    make --no-print-directory test >"$log" 2>&1
    status=$?
    elapsed=$((SECONDS - started))
    # The closing lines that say what happened: Swift Testing's totals and the compliance verdict.
    tests="$(sed -nE 's/^.*(Test run with [0-9]+ tests.*)$/\1/p' "$log" | tail -1)"
    verdict="$(grep -E '^compliance verdict:' "$log" | tail -1)"
    if ((status == 0)); then
        passed=$((passed + 1))
        result=PASSED
    else
        failed=$((failed + 1))
        result="FAILED (exit $status)"
    fi
    echo "run $run/$runs: $result in ${elapsed}s; ${tests:-no test totals}; ${verdict:-no verdict} (log: $log)"
    if ((status != 0)); then
        grep -E 'Test .*(failed after|recorded an issue)' "$log" | head -8 | sed 's/^/    /'
    fi
done

echo "under load: $passed of $runs runs passed"
echo "$passed passed, $failed failed"
((failed == 0))
