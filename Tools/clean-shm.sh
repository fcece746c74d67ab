#!/usr/bin/env bash
# Removes Aeron driver directories that this project's tests and tools create (`aeron-tp-<pid>-…` under /dev/shm
# and $TMPDIR) when the process that created them is gone, e.g. after a killed test run. Live ones are kept.
set -euo pipefail
removed=0
for base in /dev/shm "${TMPDIR:-/tmp}"; do
    [[ -d "$base" ]] || continue
    for dir in "$base"/aeron-tp-*; do
        [[ -e "$dir" ]] || continue
        name="${dir##*/}"
        pid="${name#aeron-tp-}"
        pid="${pid%%-*}"
        [[ "$pid" =~ ^[0-9]+$ ]] || continue
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -rf -- "$dir"
            removed=$((removed + 1))
        fi
    done
done
if [[ $removed -gt 0 ]]; then echo "clean-shm: removed $removed stale driver director$([[ $removed -eq 1 ]] && echo y || echo ies)"; fi
exit 0
