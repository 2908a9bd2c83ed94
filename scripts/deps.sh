#!/usr/bin/env bash
# Installs the Debian packages Playclock builds and runs with, if any is missing.
# Extra packages a caller needs can be named as arguments (scripts/bench.sh: python3-matplotlib).
set -euo pipefail
packages=(mosquitto mosquitto-clients libmosquitto-dev libsqlite3-dev libssl-dev pkg-config openssl sqlite3 curl
  libx11-dev libxrandr-dev libxft-dev libxext-dev fonts-dejavu-core "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
