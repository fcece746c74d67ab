#!/usr/bin/env bash
# Removes what this project's tests and tools leave under /dev/shm and $TMPDIR when the process that created it is
# gone (e.g. after a killed test run): Aeron driver directories `aeron-tp-<pid>-…` and SHM region directories
# `tp-conf-…-<pid>-…`, `tp-unit-<pid>-…`, `tp-shm-stress-<pid>`. Live ones are kept.
set -euo pipefail
removed=0
pattern='^(aeron-tp|tp-conf|tp-conf-stress|tp-conf-create|tp-conf-drv|tp-conf-proc|tp-unit|tp-shm-stress|tp-bench)-([0-9]+)($|-)'
for base in /dev/shm "${TMPDIR:-/tmp}"; do
    [[ -d "$base" ]] || continue
    for dir in "$base"/aeron-tp-* "$base"/tp-*; do
        [[ -e "$dir" ]] || continue
        name="${dir##*/}"
        [[ "$name" =~ $pattern ]] || continue
        pid="${BASH_REMATCH[2]}"
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -rf -- "$dir"
            removed=$((removed + 1))
        fi
    done
done
if [[ $removed -gt 0 ]]; then echo "clean-shm: removed $removed stale director$([[ $removed -eq 1 ]] && echo y || echo ies)"; fi
exit 0
