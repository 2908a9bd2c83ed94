#!/usr/bin/env bash
# Checks the systemd units in systemd/ with `systemd-analyze verify` (works without systemd
# running as PID 1). The units name /usr/local/bin binaries: verify runs against copies that
# point at this checkout's built binaries, or at /bin/true when they are not built.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
bin="$(swift build --show-bin-path 2>/dev/null || true)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for unit in systemd/*.service; do
  name=$(basename "$unit")
  sed -E "s#/usr/local/bin/(playclockd|playclock-sim)#$work/\\1#g" "$unit" > "$work/$name"
  for b in playclockd playclock-sim; do
    if [ -x "$bin/$b" ]; then ln -sf "$bin/$b" "$work/$b"; else ln -sf /bin/true "$work/$b"; fi
  done
  # Complaints about units the file only names (not installed here) are tolerated; any about
  # a line of the file itself ("<path>:<line>: Unknown key ...") are not.
  if out=$(systemd-analyze verify --man=no "$work/$name" 2>&1) && ! grep -q -E "^$work/[^:]+:[0-9]+:" <<<"$out" \
     && [ -z "$(echo "$out" | grep -v -E 'mosquitto.service|network-online|playclockd.service' || true)" ]; then
    echo "ok: $name"
  else
    echo "FAILED: $name"; echo "$out"; status=1
  fi
done
# Drop-ins for units other packages ship (systemd/mosquitto.service.d/): verified on top of the
# installed unit (Debian's mosquitto.service), where it is installed; any complaint fails.
for dropins in systemd/*.service.d; do
  [ -d "$dropins" ] || continue
  name=$(basename "$dropins" .d)
  base=/lib/systemd/system/$name
  [ -f "$base" ] || { echo "skipped: $name drop-ins ($base is not installed)"; continue; }
  cp "$base" "$work/$name"
  mkdir -p "$work/$name.d"
  cp "$dropins"/*.conf "$work/$name.d/"
  if out=$(systemd-analyze verify --man=no "$work/$name" 2>&1) && [ -z "$out" ]; then
    echo "ok: $name drop-ins"
  else
    echo "FAILED: $name drop-ins"; echo "$out"; status=1
  fi
done
exit $status
