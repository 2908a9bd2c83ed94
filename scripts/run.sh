#!/usr/bin/env bash
# Runs Playclock locally: a private Mosquitto on loopback, the hub with a sample venue
# (8 PCs, 4 consoles on smart plugs), simulated PC agents and simulated Tasmota/Shelly plugs.
# Installs what it needs first. Ctrl-C stops all.
#   PLAYCLOCK_PORT   broker port (default 18830)
#   PLAYCLOCK_STATE  directory for the broker config, database and logs (default ./run)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

port="${PLAYCLOCK_PORT:-18830}"
state="${PLAYCLOCK_STATE:-$PWD/run}"
mkdir -p "$state"

echo "building (release)..."
swift build -c release --product playclockd >/dev/null
swift build -c release --product playclock >/dev/null
swift build -c release --product playclock-sim >/dev/null
bin="$(swift build -c release --show-bin-path)"

sed "s/@PORT@/$port/" mosquitto/dev.conf.in > "$state/mosquitto.conf"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

mosquitto -c "$state/mosquitto.conf" 2>"$state/mosquitto.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

"$bin/playclockd" --broker "mqtt://127.0.0.1:$port" --database "$state/playclock.sqlite" \
  --venue samples/venue.json 2>"$state/playclockd.log" &
pids+=($!)
"$bin/playclock-sim" --broker "mqtt://127.0.0.1:$port" --pcs 8 \
  --tasmota ps5-plug-1,ps5-plug-2 --shelly1 shellyplug-s-xbox1 --shelly2 shellyplusplugs-switch1 \
  >"$state/agents.log" 2>&1 &
pids+=($!)
sleep 1

cat <<TXT

Playclock is running (broker mqtt://127.0.0.1:$port, state in $state).

Watch everything the hub says:
  mosquitto_sub -p $port -t 'playclock/#' -v
Drive it:
  export PLAYCLOCK_BROKER=mqtt://127.0.0.1:$port
  $bin/playclock stations
  $bin/playclock session start PC-01 --minutes 60
  $bin/playclock session extend PC-01 --minutes 15
  $bin/playclock session start PS5-01 --minutes 30      # a console: its Tasmota plug switches on
  mosquitto_pub -p $port -t playclock-sim/plugs/ps5-plug-1/fault -m press   # someone presses the plug's button
What the simulated agents and plugs received:  tail -f $state/agents.log
Hub log:                             tail -f $state/playclockd.log

Ctrl-C stops the broker, the hub and the agents.
TXT
wait -n "${pids[@]}" || true
echo "a process exited; see the logs in $state" >&2
