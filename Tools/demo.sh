#!/usr/bin/env bash
# The end-to-end demo of `make run`: tp-driver with an embedded media driver, a consumer process and a producer
# process streaming a synthetic 480x1280 tensor for a few seconds (live fps, MiB/s, drops; every frame's pattern
# checked), watched by a supervisor process that forces the consumer into RATE_LIMITED halfway through; then an
# orderly shutdown. Usage: Tools/demo.sh [bin-dir] [seconds]
set -euo pipefail
bin="${1:-.build/release}"
seconds="${2:-3}"
log="$(mktemp)"
trap 'kill -9 "${driver:-0}" "${consumer:-0}" "${producer:-0}" "${supervisor:-0}" 2>/dev/null || true; rm -f "$log"' EXIT
"$bin/tp-driver" run --config Tools/config/driver-demo.toml --embedded-media-driver --log-level notice >"$log" 2>&1 &
driver=$!
for _ in $(seq 1 200); do grep -q 'running:' "$log" && break; sleep 0.05; done
aeron_dir="$(sed -n 's/^aeron-dir: //p' "$log")"
base="/dev/shm/tensorpool-demo"
echo "tp-driver running (media driver in $aeron_dir)"
# The supervisor watches everything and, once the stream has run for about half the time, forces the consumer into
# RATE_LIMITED (it then gates locally at its default 30 Hz); with --require it fails unless it saw both clients and
# the consumer reported the new mode.
"$bin/tp-supervisor" run --aeron-dir "$aeron_dir" --seconds "$((seconds + 2))" \
    --rate-limit-after "$(awk "BEGIN { print 0.5 + $seconds / 2 }")" --require &
supervisor=$!
"$bin/tp-client" consume --aeron-dir "$aeron_dir" --allowed-base "$base" --seconds "$((seconds + 2))" &
consumer=$!
sleep 0.5
"$bin/tp-client" produce --aeron-dir "$aeron_dir" --allowed-base "$base" --seconds "$seconds" &
producer=$!
wait "$producer"
wait "$consumer"
wait "$supervisor"
kill -TERM "$driver"
wait "$driver"
rmdir "$base" 2>/dev/null || true
echo "demo finished: driver stopped cleanly"
