#!/usr/bin/env bash
# End-to-end driver demo: tp-driver with an embedded media driver, a producer and a consumer attached from separate
# processes, then an orderly SIGTERM shutdown that both clients observe. Used by `make run`.
set -euo pipefail
bin="${1:-.build/release}"
log="$(mktemp)"
trap 'kill -9 "${driver:-0}" "${producer:-0}" "${consumer:-0}" 2>/dev/null || true; rm -f "$log" "$log".*' EXIT
"$bin/tp-driver" run --config Tools/config/driver-test.toml --embedded-media-driver --cleanup-on-exit \
    --log-level notice >"$log" 2>&1 &
driver=$!
for _ in $(seq 1 200); do grep -q '^aeron-dir: ' "$log" && grep -q 'running:' "$log" && break; sleep 0.05; done
aeron_dir="$(sed -n 's/^aeron-dir: //p' "$log")"
echo "driver running, media driver in $aeron_dir"
"$bin/tp-driver" attach --aeron-dir "$aeron_dir" --stream 10000 --role producer >"$log.producer" 2>&1 &
producer=$!
"$bin/tp-driver" attach --aeron-dir "$aeron_dir" --stream 10000 --role consumer >"$log.consumer" 2>&1 &
consumer=$!
for _ in $(seq 1 200); do
    grep -q 'attached' "$log.producer" 2>/dev/null && grep -q 'attached' "$log.consumer" 2>/dev/null && break
    sleep 0.05
done
echo "producer: $(head -1 "$log.producer")"
echo "consumer: $(head -1 "$log.consumer")"
kill -TERM "$driver"
wait "$driver"
sleep 0.2
echo "producer saw: $(grep '^event' "$log.producer" | head -1)"
echo "consumer saw: $(grep '^event' "$log.consumer" | head -1)"
kill "$producer" "$consumer" 2>/dev/null || true
wait "$producer" "$consumer" 2>/dev/null || true
rmdir /dev/shm/tensorpool-test 2>/dev/null || true
echo "driver stopped cleanly"
