#!/usr/bin/env bash
# Runs the whole test suite: fast unit tests, then integration tests against a real Mosquitto
# and the real binaries (the PC agent on a real X server: Debian's xvfb, checked with x11-utils,
# xdotool, xterm and imagemagick), then the dashboard in a real headless Chromium (Debian's
# chromium, chromium-driver and python3-selenium), then the kiosk files. Installs what it needs first.
# Prints "tests: N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh chromium chromium-driver python3-selenium python3-pytest python3-paho-mqtt \
  xvfb x11-utils x11-xserver-utils xdotool xterm imagemagick desktop-file-utils shellcheck || exit 1

work=$(mktemp -d)
log=$work/test.log
status=0

# Leave nothing running, whatever happens, and kill nothing else: the machine may be shared.
# Every phase (build, unit tests, integration tests, browser tests) runs as the leader of a
# session of its own (`setsid`); the brokers, hubs, clients, chromedriver and Chromium it starts
# stay in that session (the browser tests give theirs process groups of their own, in the same
# session). At the end, or on a signal, every process still in one of those sessions gets
# SIGKILL (children of Swift tests inherit blocked signals, so nothing gentler), found by
# session id, never by name.
sessions=$work/sessions
: > "$sessions"
in_session() {
  # `-w`: should setsid have to fork, it still waits and passes on the exit status.
  setsid -w bash -c 'echo $$ >> "$0"; exec "$@"' "$sessions" "$@"
}
cleanup() {
  local sid pids
  while read -r sid; do
    [ -n "$sid" ] || continue
    pids=$(ps -e -o pid=,sid= | awk -v sid="$sid" '$2 == sid { print $1 }')
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  done < "$sessions"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# phase SINK CMD...: runs CMD in a session of its own with its output (stdout and stderr) piped
# to the function SINK, and returns CMD's exit status. The pipeline runs in the background so
# that Ctrl-C or SIGTERM interrupts `wait` at once (the phase's session does not get the
# terminal's signals) and the traps above kill the session.
phase() {
  local sink=$1
  shift
  rm -f "$work/status"
  { in_session "$@"; echo $? > "$work/status"; } 2>&1 | "$sink" &
  wait $!
  return "$(cat "$work/status" 2>/dev/null || echo 1)"
}
last_lines() { tail -n 30; }
to_log() { tee -a "$log"; }
to_browser_log() { tee "$browser_log"; }

phase last_lines swift build --build-tests || { echo "build failed"; exit 1; }

# Unit tests in parallel; integration tests one at a time (each starts a broker and a hub).
# Time limits keep a hung test from eating CI's budget (the suite takes about 2 minutes).
phase to_log timeout -k 10 600 swift test --skip-build --skip PlayclockIntegrationTests || status=1
phase to_log timeout -k 10 1200 swift test --skip-build --no-parallel --filter PlayclockIntegrationTests || status=1

# The dashboard end to end: real broker, hub, simulated agents and plugs, headless Chromium.
browser_log=$work/browser.log
bin=$(swift build --show-bin-path)
PYTHONDONTWRITEBYTECODE=1 PLAYCLOCK_BIN="$bin" phase to_browser_log timeout -k 10 600 \
  /usr/bin/python3 -m pytest -p no:cacheprovider -q Tests/Browser || status=1

# The kiosk setup shipped for gaming PCs: file checks, the session script, install-agent.sh --dry-run/--root.
kiosk_log=$work/kiosk.log
to_kiosk_log() { tee "$kiosk_log"; }
phase to_kiosk_log timeout -k 10 300 ./Tests/Kiosk/test-kiosk.sh || status=1

total=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | awk '{ n += $4 } END { print n + 0 }')
failed=$(grep -E '✘ Test [^ ]+\(.*\) failed' "$log" | sort -u | wc -l | tr -d ' ')
summary=$(grep -E '^=*.*[0-9]+ (passed|failed|errors?)' "$browser_log" | tail -1)
browser_passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | awk '{ print $1 + 0 }')
browser_failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{ n += $1 } END { print n + 0 }')
kiosk_passed=$(grep -oE '^kiosk: [0-9]+ passed' "$kiosk_log" | awk '{ print $2 + 0 }')
kiosk_failed=$(grep -oE '^kiosk: [0-9]+ passed, [0-9]+ failed' "$kiosk_log" | awk '{ print $4 + 0 }')
passed=$(( ${total:-0} - failed + ${browser_passed:-0} + ${kiosk_passed:-0} ))
failed=$(( failed + ${browser_failed:-0} + ${kiosk_failed:-0} ))
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "tests: $passed passed, $failed failed"
exit $status
