#!/usr/bin/env bash
# Runs Playclock locally: a private Mosquitto on loopback, the hub with a sample venue
# (8 PCs, 4 consoles on smart plugs) and its web dashboard, simulated PC agents and simulated
# Tasmota/Shelly plugs. Installs what it needs first. Ctrl-C stops all.
#   PLAYCLOCK_PORT   broker port (default 18830)
#   PLAYCLOCK_HTTP   dashboard address (default 127.0.0.1:8080; 0.0.0.0:8080 to reach it from a tablet)
#   PLAYCLOCK_STATE  directory for the broker config, database, dashboard accounts and logs (default ./run)
#   PLAYCLOCK_AGENT_DISPLAY  an X display (e.g. :0) to run the real PC agent on, as PC-01, locking
#                    that screen (the other PCs stay simulated); unset: all 8 PCs are simulated
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

port="${PLAYCLOCK_PORT:-18830}"
http="${PLAYCLOCK_HTTP:-127.0.0.1:8080}"
state="${PLAYCLOCK_STATE:-$PWD/run}"
mkdir -p "$state"

echo "building (release)..."
swift build -c release --product playclockd >/dev/null
swift build -c release --product playclock >/dev/null
swift build -c release --product playclock-sim >/dev/null
agent_display="${PLAYCLOCK_AGENT_DISPLAY:-}"
[ -z "$agent_display" ] || swift build -c release --product playclock-agent >/dev/null
bin="$(swift build -c release --show-bin-path)"

sed "s/@PORT@/$port/" mosquitto/dev.conf.in > "$state/mosquitto.conf"

# Dashboard accounts for the demo, made once and kept in the state directory: a manager, a
# cashier and a viewer with random passwords, and the wall board's token.
if [ ! -f "$state/dashboard.passwd" ]; then
  umask 077
  for account in manager cashier viewer; do
    "$bin/playclock" dashboard passwd "$account" --file "$state/dashboard.passwd" --cost 10
  done > "$state/dashboard-accounts.txt"
  umask 022
fi
[ -f "$state/board.token" ] || "$bin/playclock" dashboard board-token --out "$state/board.token" >/dev/null
# The sample venue's prices (samples/pricing.json) seed a new database.
cat > "$state/playclockd.json" <<JSON
{
  "pricing": $(cat samples/pricing.json),
  "roles": {"manager": "manager", "cashier": "cashier", "viewer": "viewer"},
  "shared_topic_role": "manager",
  "http": {"listen": "$http", "users_file": "$state/dashboard.passwd", "board_token_file": "$state/board.token"}
}
JSON

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

"$bin/playclockd" --config "$state/playclockd.json" --broker "mqtt://127.0.0.1:$port" \
  --database "$state/playclock.sqlite" --venue samples/venue.json 2>"$state/playclockd.log" &
pids+=($!)
simulated_pcs=(--pcs 8)
if [ -n "$agent_display" ]; then
  # The real agent takes PC-01 (locked until a session starts; Ctrl-C here ends it).
  DISPLAY="$agent_display" "$bin/playclock-agent" --broker "mqtt://127.0.0.1:$port" --station PC-01 \
    --lease-file "$state/agent-lease.json" 2>"$state/agent.log" &
  pids+=($!)
  simulated_pcs=(--stations PC-02,PC-03,PC-04,PC-05,PC-06,PC-07,PC-08)
fi
"$bin/playclock-sim" --broker "mqtt://127.0.0.1:$port" "${simulated_pcs[@]}" \
  --tasmota ps5-plug-1,ps5-plug-2 --shelly1 shellyplug-s-xbox1 --shelly2 shellyplusplugs-switch1 \
  >"$state/agents.log" 2>&1 &
pids+=($!)
sleep 1

url="http://$http"
[[ "$http" == 0.0.0.0:* ]] && url="http://$(hostname -I 2>/dev/null | awk '{print $1}'):${http##*:}"
for _ in $(seq 50); do curl -fs "http://127.0.0.1:${http##*:}/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

cat <<TXT

Playclock is running (broker mqtt://127.0.0.1:$port, state in $state).

Front desk:  $url/
  sign in as (account password):
$(sed 's/^/    /' "$state/dashboard-accounts.txt")
Wall board:  $url/board?token=$(head -n1 "$state/board.token")
Health:      $url/healthz     Metrics: $url/metrics

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
$([ -n "$agent_display" ] && echo "Real agent on $agent_display as PC-01:  tail -f $state/agent.log")

Ctrl-C stops the broker, the hub and the agents.
TXT
wait -n "${pids[@]}" || true
echo "a process exited; see the logs in $state" >&2
