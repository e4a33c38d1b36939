#!/usr/bin/env bash
# Install what ddbload needs to build, test and run its demo: Debian packages and the pinned
# npm services (s3rver, dynalite; see tools/services/package-lock.json). Idempotent; quiet
# when everything is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

pkgs=(build-essential cmake pkg-config git curl ca-certificates python3
      libcurl4-openssl-dev libssl-dev libzip-dev libzstd-dev zlib1g-dev libexpat1-dev zstd gnuplot-nox
      nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from outside Debian on some images: accept working binaries instead.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
apt_updated=0
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo_cmd apt-get update -qq
    apt_updated=1
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The aarch64 cross compiler and qemu-user for tools/cross-test.sh (ctest's cross.aarch64 runs
# the NEON kernels' unit tests under emulation). Not needed on an arm64 host, and optional:
# without them that test is skipped, so a failed install only warns.
cross=()
if [ "$(dpkg --print-architecture 2>/dev/null || echo unknown)" != arm64 ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null || cross+=(gcc-aarch64-linux-gnu)
    [ -f /usr/aarch64-linux-gnu/include/stdio.h ] || cross+=(libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || cross+=(qemu-user)
fi
if [ "${#cross[@]}" -gt 0 ]; then
    echo "setup: installing the aarch64 cross toolchain: ${cross[*]}"
    { [ "$apt_updated" = 1 ] || $sudo_cmd apt-get update -qq; } &&
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${cross[@]}" >/dev/null ||
        echo "setup: warning: could not install ${cross[*]}; the cross.aarch64 test will be skipped" >&2
fi

# The aws CLI is the independent client the demo and tests read results back with.
if ! command -v aws >/dev/null; then
    echo "setup: installing the aws CLI (Debian package awscli)"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends awscli >/dev/null
fi
python3 -c 'import boto3' 2>/dev/null || {
    echo "setup: installing boto3 (Debian package python3-boto3)"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-boto3 >/dev/null
}

# npm services, exactly as locked
lock="$here/services/package-lock.json"
stamp="$here/services/node_modules/.ddbload-lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing s3rver and dynalite from tools/services/package-lock.json"
    (cd "$here/services" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
fi
