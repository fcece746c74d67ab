#!/usr/bin/env bash
# Installs the system packages the build needs beyond the Swift toolchain, when they are missing:
# libsqlite3-dev (GRDB, for the compliance tracker). Aeron's own prerequisites are handled by Tools/aeron/install.sh.
# As root it uses apt-get; otherwise it names what to install and fails.
set -euo pipefail
missing=()
[[ -e /usr/include/sqlite3.h ]] || missing+=(libsqlite3-dev)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "[prerequisites] installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "[prerequisites] missing system packages: ${missing[*]} (install them, e.g. with apt-get)" >&2
    exit 1
fi
