#!/usr/bin/env bash
# Runs the whole test suite: fast unit tests, then integration tests against a real Mosquitto
# and the real binaries, then the dashboard in a real headless Chromium (Debian's chromium,
# chromium-driver and python3-selenium). Installs what it needs first.
# Prints "tests: N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh chromium chromium-driver python3-selenium python3-pytest || exit 1

log=$(mktemp -d)/test.log
status=0

# Leave nothing running, whatever happens: the products, and the brokers and clients the
# integration tests start (their configs live in /tmp/mosquitto-*).
cleanup() {
  pkill -KILL -f "$(pwd)/.build/.*/playclock" 2>/dev/null || true
  pkill -KILL -f "mosquitto -c /tmp/mosquitto-" 2>/dev/null || true
  pkill -KILL -f "mosquitto_(sub|pub|rr) -h 127.0.0.1" 2>/dev/null || true
  # The browser tests' own broker and headless browser.
  pkill -KILL -f "mosquitto -c /tmp/playclock-browser-" 2>/dev/null || true
  pkill -KILL -f "chromedriver" 2>/dev/null || true
  pkill -KILL -f "chromium.*--headless" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
swift build --build-tests 2>&1 | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed"; exit 1; }

# Unit tests in parallel; integration tests one at a time (each starts a broker and a hub).
# Time limits keep a hung test from eating CI's budget (the suite takes about 2 minutes).
timeout -k 10 600 swift test --skip-build --skip PlayclockIntegrationTests 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
timeout -k 10 1200 swift test --skip-build --no-parallel --filter PlayclockIntegrationTests 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The dashboard end to end: real broker, hub, simulated agents and plugs, headless Chromium.
browser_log=$(dirname "$log")/browser.log
PYTHONDONTWRITEBYTECODE=1 PLAYCLOCK_BIN="$(swift build --show-bin-path)" timeout -k 10 600 \
  /usr/bin/python3 -m pytest -p no:cacheprovider -q Tests/Browser 2>&1 | tee "$browser_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

total=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | awk '{ n += $4 } END { print n + 0 }')
failed=$(grep -E '✘ Test [^ ]+\(.*\) failed' "$log" | sort -u | wc -l | tr -d ' ')
summary=$(grep -E '^=*.*[0-9]+ (passed|failed|errors?)' "$browser_log" | tail -1)
browser_passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | awk '{ print $1 + 0 }')
browser_failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{ n += $1 } END { print n + 0 }')
passed=$(( ${total:-0} - failed + ${browser_passed:-0} ))
failed=$(( failed + ${browser_failed:-0} ))
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "tests: $passed passed, $failed failed"
exit $status
