#!/usr/bin/env bash
# The end-to-end demo of `make run`: tp-driver with an embedded media driver, a consumer process and a producer
# process streaming a synthetic 480x1280 tensor for a few seconds (live fps, MiB/s, drops; every frame's pattern
# checked), then an orderly shutdown. Usage: Tools/demo.sh [bin-dir] [seconds]
set -euo pipefail
bin="${1:-.build/release}"
seconds="${2:-3}"
log="$(mktemp)"
trap 'kill -9 "${driver:-0}" "${consumer:-0}" "${producer:-0}" 2>/dev/null || true; rm -f "$log"' EXIT
"$bin/tp-driver" run --config Tools/config/driver-demo.toml --embedded-media-driver --log-level notice >"$log" 2>&1 &
driver=$!
for _ in $(seq 1 200); do grep -q 'running:' "$log" && break; sleep 0.05; done
aeron_dir="$(sed -n 's/^aeron-dir: //p' "$log")"
base="/dev/shm/tensorpool-demo"
echo "tp-driver running (media driver in $aeron_dir)"
"$bin/tp-client" consume --aeron-dir "$aeron_dir" --allowed-base "$base" --seconds "$((seconds + 2))" &
consumer=$!
sleep 0.5
"$bin/tp-client" produce --aeron-dir "$aeron_dir" --allowed-base "$base" --seconds "$seconds" &
producer=$!
wait "$producer"
wait "$consumer"
kill -TERM "$driver"
wait "$driver"
rmdir "$base" 2>/dev/null || true
echo "demo finished: driver stopped cleanly"
