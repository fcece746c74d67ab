#!/usr/bin/env bash
# Installs the Aeron C client and C media driver from the sources vendored in the PyPI sdist pyaeron==0.1.0
# (folder third_party/aeron, Aeron 1.53.0-SNAPSHOT): headers, static archives, the standalone media driver and a
# pkg-config file named `aeron`.
#
# Usage: Tools/aeron/install.sh [--prefix DIR] [--force] [--print-prefix] [--print-env]
#   --prefix DIR     install prefix; default: $AERON_PREFIX, else /usr/local as root, else $HOME/.local
#   --force          rebuild and reinstall even when the installed copy is current
#   --print-prefix   print the prefix that would be used and exit
#   --print-env      print the PKG_CONFIG_PATH/PATH exports needed for that prefix and exit
#
# The script is idempotent: when the stamp file under <prefix>/share/aeron-tensorpool matches this recipe and every
# installed file is present, it exits at once. It verifies the sdist's sha256 (pip --require-hashes, then again
# itself) and never downloads by URL. Nothing it produces belongs in git.
set -euo pipefail

readonly AERON_VERSION="1.53.0-SNAPSHOT"
readonly SDIST_NAME="pyaeron"
readonly SDIST_VERSION="0.1.0"
readonly SDIST_SHA256="65fad0d4ca6926a24620c712fdebe8db8589a4d42a8dc52f15910a868c318af0"
# Bump when the recipe (flags, targets, installed files) changes, so existing installs are rebuilt.
readonly RECIPE_REVISION="1"
readonly CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON
    -DBUILD_AERON_DRIVER=ON
    -DBUILD_AERON_ARCHIVE_API=OFF
    -DAERON_TESTS=OFF
    -DAERON_UNIT_TESTS=OFF
    -DAERON_SYSTEM_TESTS=OFF
    -DAERON_BUILD_SAMPLES=OFF
    -DAERON_BUILD_DOCUMENTATION=OFF
    -DAERON_INSTALL_TARGETS=OFF
)
# Python build tools for the private venv. cmake >= 3.30 is what Aeron requires.
readonly TOOL_REQUIREMENTS=("cmake>=3.30" "ninja" "scikit-build-core")

log() { printf '[aeron] %s\n' "$*" >&2; }
die() { printf '[aeron] error: %s\n' "$*" >&2; exit 1; }

default_prefix() {
    if [[ -n "${AERON_PREFIX:-}" ]]; then
        printf '%s\n' "$AERON_PREFIX"
    elif [[ "$(id -u)" == "0" ]]; then
        printf '/usr/local\n'
    else
        printf '%s/.local\n' "$HOME"
    fi
}

prefix=""
force=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --force) force=1; shift ;;
        --print-prefix) printf '%s\n' "${prefix:-$(default_prefix)}"; exit 0 ;;
        --print-env)
            p="${prefix:-$(default_prefix)}"
            printf 'export PKG_CONFIG_PATH=%q\n' "$p/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
            printf 'export PATH=%q\n' "$p/bin:$PATH"
            exit 0 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
prefix="${prefix:-$(default_prefix)}"
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac

readonly share_dir="$prefix/share/aeron-tensorpool"
readonly stamp="$share_dir/aeron-install.stamp"
readonly installed_files=(
    "$prefix/include/aeron/aeronc.h"
    "$prefix/include/aeron/aeronmd.h"
    "$prefix/lib/libaeron_driver_static.a"
    "$prefix/lib/pkgconfig/aeron.pc"
    "$prefix/bin/aeronmd"
)
expected_stamp="aeron=$AERON_VERSION sdist=$SDIST_NAME-$SDIST_VERSION sha256=$SDIST_SHA256 recipe=$RECIPE_REVISION"

is_current() {
    [[ -f "$stamp" ]] || return 1
    [[ "$(cat "$stamp")" == "$expected_stamp" ]] || return 1
    local f
    for f in "${installed_files[@]}"; do [[ -e "$f" ]] || return 1; done
    return 0
}

if [[ $force -eq 0 ]] && is_current; then
    log "Aeron $AERON_VERSION already installed in $prefix"
    exit 0
fi

# --- system prerequisites: a C and C++ compiler (Aeron's CMake project enables both), libuuid, pkg-config ---
missing_packages=()
command -v cc >/dev/null 2>&1 || missing_packages+=(gcc)
command -v c++ >/dev/null 2>&1 || missing_packages+=(g++)
command -v pkg-config >/dev/null 2>&1 || missing_packages+=(pkg-config)
if ! command -v python3 >/dev/null 2>&1; then
    missing_packages+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing_packages+=(python3-venv)  # Debian's python3 ships venv without ensurepip
fi
[[ -e /usr/include/uuid/uuid.h ]] || missing_packages+=(uuid-dev)
if [[ ${#missing_packages[@]} -gt 0 ]]; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing system packages: ${missing_packages[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
    else
        die "missing system packages: ${missing_packages[*]} (install them, e.g. with apt-get, and run again)"
    fi
fi

mkdir -p "$prefix" 2>/dev/null || die "cannot create prefix $prefix"
[[ -w "$prefix" ]] || die "prefix $prefix is not writable (use --prefix DIR or AERON_PREFIX=DIR)"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/aeron-tensorpool"
mkdir -p "$cache_root"

# Two concurrent runs (make -j, two checkouts) must not build into the same tree at once.
exec 9>"$cache_root/install.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if [[ $force -eq 0 ]] && is_current; then
    log "Aeron $AERON_VERSION already installed in $prefix (by a concurrent run)"
    exit 0
fi

started=$(date +%s)

# --- private venv with cmake, ninja and scikit-build-core (for pip's sdist metadata step) ---
venv="$cache_root/venv"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
    || ! "$venv/bin/cmake" --version >/dev/null 2>&1 \
    || ! "$venv/bin/ninja" --version >/dev/null 2>&1; then
    log "creating tool venv in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${TOOL_REQUIREMENTS[@]}" \
        || die "pip could not install ${TOOL_REQUIREMENTS[*]}"
fi
cmake_version="$("$venv/bin/cmake" --version | head -n1 | awk '{print $3}')"
log "using cmake $cmake_version and ninja $("$venv/bin/ninja" --version)"

# --- fetch the sdist through pip, pinned by hash ---
download_dir="$cache_root/sdist"
sdist="$download_dir/$SDIST_NAME-$SDIST_VERSION.tar.gz"
verify_sdist() {
    [[ -f "$sdist" ]] && [[ "$(sha256sum "$sdist" | awk '{print $1}')" == "$SDIST_SHA256" ]]
}
if ! verify_sdist; then
    rm -rf "$download_dir"
    mkdir -p "$download_dir"
    requirements="$cache_root/requirements.txt"
    printf '%s==%s --hash=sha256:%s\n' "$SDIST_NAME" "$SDIST_VERSION" "$SDIST_SHA256" > "$requirements"
    log "downloading $SDIST_NAME==$SDIST_VERSION (sdist) with pip"
    PATH="$venv/bin:$PATH" "$venv/bin/pip" download --quiet --disable-pip-version-check \
        --no-deps --no-binary "$SDIST_NAME" --ignore-requires-python --no-build-isolation \
        --require-hashes -r "$requirements" -d "$download_dir" \
        || die "pip download of $SDIST_NAME==$SDIST_VERSION failed"
    verify_sdist || die "sha256 of $sdist does not match $SDIST_SHA256"
fi
log "sdist verified: sha256 $SDIST_SHA256"

# --- configure and build only what we install ---
work="$cache_root/build-$SDIST_VERSION-r$RECIPE_REVISION"
rm -rf "$work"
mkdir -p "$work"
tar -xzf "$sdist" -C "$work"
source_dir="$work/$SDIST_NAME-$SDIST_VERSION/third_party/aeron"
[[ -f "$source_dir/CMakeLists.txt" ]] || die "the sdist has no third_party/aeron"
found_version="$(cat "$source_dir/version.txt" 2>/dev/null || true)"
[[ "$found_version" == "$AERON_VERSION" ]] || die "expected Aeron $AERON_VERSION in the sdist, found '$found_version'"

build_dir="$work/build"
jobs="$(nproc 2>/dev/null || echo 2)"
log "configuring Aeron $AERON_VERSION"
PATH="$venv/bin:$PATH" "$venv/bin/cmake" -S "$source_dir" -B "$build_dir" -G Ninja \
    -DCMAKE_MAKE_PROGRAM="$venv/bin/ninja" "${CMAKE_FLAGS[@]}" > "$work/configure.log" 2>&1 \
    || { tail -n 40 "$work/configure.log" >&2; die "cmake configure failed (log: $work/configure.log)"; }
log "building aeron_driver_static and aeronmd_s with $jobs jobs"
PATH="$venv/bin:$PATH" "$venv/bin/ninja" -C "$build_dir" -j "$jobs" aeron_driver_static aeronmd_s \
    > "$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log" >&2; die "build failed (log: $work/build.log)"; }

# --- install (copy: the sdist has no install configuration) ---
log "installing into $prefix"
install -d "$prefix/include/aeron" "$prefix/lib/pkgconfig" "$prefix/bin" "$share_dir"
install -m 0644 "$source_dir/aeron-client/src/main/c/aeronc.h" "$prefix/include/aeron/aeronc.h"
install -m 0644 "$source_dir/aeron-driver/src/main/c/aeronmd.h" "$prefix/include/aeron/aeronmd.h"
install -m 0644 "$build_dir/lib/libaeron_driver_static.a" "$prefix/lib/libaeron_driver_static.a"
install -m 0755 "$build_dir/binaries/aeronmd_s" "$prefix/bin/aeronmd"
install -m 0644 "$source_dir/LICENSE" "$share_dir/AERON-LICENSE"
cat > "$prefix/lib/pkgconfig/aeron.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include/aeron
libdir=\${prefix}/lib
aeronmd=\${prefix}/bin/aeronmd

Name: aeron
Description: Aeron C client and C media driver $AERON_VERSION (static, from $SDIST_NAME $SDIST_VERSION)
Version: $AERON_VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -laeron_driver_static -luuid -ldl -lm -lpthread
PC
printf '%s\n' "$expected_stamp" > "$stamp"
rm -rf "$work"

log "Aeron $AERON_VERSION installed in $prefix in $(( $(date +%s) - started )) s"
if [[ "$prefix" != "/usr/local" && "$prefix" != "/usr" ]]; then
    log "add to your environment: PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
fi
