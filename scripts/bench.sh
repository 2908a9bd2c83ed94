#!/usr/bin/env bash
# The benchmark, end to end: installs what it needs, builds release, runs playclock-bench at venue
# scale (a private mosquitto, the release playclockd, simulated agents and plugs), plots the
# latency distributions and rewrites BENCHMARKS.md with the table, this machine and the command.
#   scripts/bench.sh                # the full run (about 7 minutes on 2 cores, after the build)
#   scripts/bench.sh --quick        # every phase at small N, in about a minute
# Any argument is passed to playclock-bench (see `.build/release/playclock-bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh python3-matplotlib
swift build -c release --product playclockd
swift build -c release --product playclock-sim
swift build -c release --product playclock-bench
out=$(mktemp -d /tmp/playclock-bench.XXXXXX)
.build/release/playclock-bench --out "$out" --report "$out/report.md" "$@"
mkdir -p docs
/usr/bin/python3 scripts/bench-plot.py "$out/samples.csv" docs/bench-latency.png

model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`scripts/bench.sh${*:+ $*}\` on $(date -u +%Y-%m-%d) (UTC); samples and logs were in \`$out\`."
  echo
  echo "Machine: ${model:-unknown CPU}, $(nproc) cores, ${memory}, $(uname -sr), $(/usr/sbin/mosquitto -h 2>/dev/null | head -1 | sed 's/ is an MQTT.*//'), $(swift --version 2>/dev/null | head -1)."
  echo "The broker, the hub and the simulator share this machine: the simulator's CPU is not the hub's, but it competes for the same cores."
  echo
  echo "How to read it: latencies are wall-clock times taken on the MQTT network threads of the bench process (the dashboard's on its HTTP reader threads);"
  echo "\`ends_at\` is the hub's own figure, so expiry lateness includes the hub's timer, the SQLite commit and two broker hops."
  echo "Hub CPU and RSS come from /proc for the playclockd process alone. Figures vary run to run; rerun before relying on one."
  echo
  cat "$out/report.md"
  echo
  echo "![latency distributions](docs/bench-latency.png)"
} > BENCHMARKS.md
echo "wrote BENCHMARKS.md and docs/bench-latency.png (samples in $out)"
