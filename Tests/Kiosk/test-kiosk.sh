#!/usr/bin/env bash
# Checks the kiosk files a gaming PC gets (kiosk/, scripts/install-agent.sh, samples/agent.json)
# without a display manager or a reboot: the .desktop file validates, the scripts parse (and
# pass shellcheck), the X server flags are there, the polkit rule allows exactly power-off and
# reboot, the session script execs the agent with a clean environment, and install-agent.sh
# installs into a staging tree (dry run first: nothing written), idempotently, never
# overwriting the config. Installs desktop-file-utils and shellcheck if missing.
# Prints "kiosk: N passed, N failed" last; exit status 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

need=()
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
command -v shellcheck >/dev/null || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # NAME CMD...: runs CMD, prints ok/FAILED with its output on failure.
  local name=$1 out; shift
  if out=$("$@" 2>&1); then echo "ok: $name"; passed=$((passed + 1))
  else echo "FAILED: $name"; printf '  %s\n' "$out"; failed=$((failed + 1)); fi
}

# --- the files themselves
check "desktop-file-validate kiosk/playclock-kiosk.desktop" desktop-file-validate kiosk/playclock-kiosk.desktop
check "the session's Exec is the session script" \
  grep -qx 'Exec=/usr/local/libexec/playclock-kiosk-session' kiosk/playclock-kiosk.desktop
check "sh -n kiosk/playclock-kiosk-session" sh -n kiosk/playclock-kiosk-session
check "bash -n scripts/install-agent.sh" bash -n scripts/install-agent.sh
check "shellcheck" shellcheck kiosk/playclock-kiosk-session scripts/install-agent.sh Tests/Kiosk/test-kiosk.sh
for flag in DontVTSwitch DontZap DontZoom; do
  check "xorg conf: $flag on" grep -Eq "^[[:space:]]*Option[[:space:]]+\"$flag\"[[:space:]]+\"true\"" \
    kiosk/xorg.conf.d/10-playclock-kiosk.conf
done
check "xorg conf: the flags are in ServerFlags" \
  awk '/^Section "ServerFlags"/{s=1} s&&/DontVTSwitch/{f=1} /^EndSection/{s=0} END{exit !f}' kiosk/xorg.conf.d/10-playclock-kiosk.conf
check "sysctl: no SysRq" grep -qx 'kernel.sysrq = 0' kiosk/sysctl.d/90-playclock-kiosk.conf
check "samples/agent.json is JSON" python3 -m json.tool samples/agent.json
check "openbox rc.xml is well-formed XML" python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' kiosk/openbox/rc.xml
lightdm_has() { grep -Fqx "$1" kiosk/lightdm/50-playclock-kiosk.conf; }
for line in '[Seat:*]' 'autologin-user=playclock-kiosk' 'autologin-session=playclock-kiosk' \
    'greeter-session=lightdm-autologin-greeter' 'session-wrapper=/usr/local/libexec/playclock-kiosk-session'; do
  check "lightdm: $line" lightdm_has "$line"
done

# --- polkit: evaluate the rule with a stand-in for polkit's API (node, if installed).
if command -v node >/dev/null; then
  cat > "$work/polkit.js" <<'JS'
const fs = require("fs");
let rule = null;
const polkit = { Result: { YES: "yes", NO: "no", NOT_HANDLED: null }, addRule: (f) => { rule = f; } };
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);
const cases = [
  ["playclock-kiosk", "org.freedesktop.login1.power-off", "yes"],
  ["playclock-kiosk", "org.freedesktop.login1.reboot", "yes"],
  ["playclock-kiosk", "org.freedesktop.login1.reboot-multiple-sessions", "yes"],
  ["playclock-kiosk", "org.freedesktop.login1.suspend", "no"],
  ["playclock-kiosk", "org.freedesktop.udisks2.filesystem-mount", "no"],
  ["playclock-kiosk", "org.freedesktop.systemd1.manage-units", "no"],
  ["playclock-kiosk", "org.freedesktop.login1.set-self-linger", "no"],
  ["ann", "org.freedesktop.login1.suspend", null],
];
let bad = 0;
for (const [user, id, want] of cases) {
  const got = rule({ id }, { user });
  if (got !== want) { console.log(`${user} ${id}: got ${got}, want ${want}`); bad++; }
}
process.exit(bad ? 1 : 0);
JS
  check "polkit rule: power-off and reboot only, other accounts untouched" node "$work/polkit.js" kiosk/polkit/50-playclock-kiosk.rules
else
  echo "skipped: polkit rule evaluation (node is not installed)"
fi

# --- the session script: execs the agent (same PID) with its flags and a clean environment.
sed "s#^agent=/usr/local/bin/playclock-agent\$#agent=$work/fake-agent#" kiosk/playclock-kiosk-session > "$work/session"
chmod 755 "$work/session"
cat > "$work/fake-agent" <<SH
#!/bin/sh
echo "pid=\$\$" > "$work/agent.out"
echo "args=\$*" >> "$work/agent.out"
env >> "$work/agent.out"
SH
chmod 755 "$work/fake-agent"
session_ok() {
  # shellcheck disable=SC2016
  env -i DISPLAY=:7 HOME=/home/playclock-kiosk USER=playclock-kiosk LD_PRELOAD=/home/x/evil.so PATH=/home/x/bin:/usr/bin:/bin \
    sh -c 'echo "pid=$$" > "$1"; exec "$2" /usr/local/libexec/playclock-kiosk-session' sh "$work/session.pid" "$work/session" || return 1
  grep -qx "$(cat "$work/session.pid")" "$work/agent.out" || { echo "the agent is not the session's process"; cat "$work/agent.out"; return 1; }
  grep -qx 'args=--kiosk --config /etc/playclock/agent.json' "$work/agent.out" || { cat "$work/agent.out"; return 1; }
  grep -qx 'DISPLAY=:7' "$work/agent.out" || { echo "DISPLAY lost"; return 1; }
  grep -qx 'PATH=/usr/local/bin:/usr/bin:/bin' "$work/agent.out" || { echo "PATH not reset"; return 1; }
  if grep -q '^LD_PRELOAD=' "$work/agent.out"; then echo "LD_PRELOAD passed on"; return 1; fi
}
check "session script: exec's the agent with --kiosk --config, clean environment" session_ok

# --- install-agent.sh into a staging tree.
root=$work/root
mkdir -p "$root"
printf '#!/bin/sh\nexit 0\n' > "$work/playclock-agent"
chmod 755 "$work/playclock-agent"
dry_run_writes_nothing() {
  ./scripts/install-agent.sh --dry-run --root "$root" --binary "$work/playclock-agent" >"$work/dry.out" || { cat "$work/dry.out"; return 1; }
  grep -q '^would: install /etc/lightdm/lightdm.conf.d/50-playclock-kiosk.conf' "$work/dry.out" || { cat "$work/dry.out"; return 1; }
  [ -z "$(find "$root" -mindepth 1)" ] || { echo "dry run wrote:"; find "$root" -mindepth 1; return 1; }
}
check "install-agent.sh --dry-run: says what, writes nothing" dry_run_writes_nothing
mode() { stat -c '%a' "$root$1"; }
installs() {
  ./scripts/install-agent.sh --root "$root" --binary "$work/playclock-agent" --station PC-07 >"$work/install.out" || { cat "$work/install.out"; return 1; }
  if ! { [ "$(mode /etc/playclock/agent.json)" = 640 ] && [ "$(mode /etc/playclock/agent.password)" = 640 ] &&
    [ "$(mode /var/lib/playclock-agent)" = 700 ] && [ "$(mode /etc/playclock)" = 750 ] &&
    [ "$(mode /usr/local/libexec/playclock-kiosk-session)" = 755 ]; }; then
    (cd "$root" && find . -printf '%m %p\n'); return 1
  fi
  grep -q '"station": "PC-07"' "$root/etc/playclock/agent.json" && grep -q '"username": "PC-07"' "$root/etc/playclock/agent.json"
  cmp kiosk/lightdm/50-playclock-kiosk.conf "$root/etc/lightdm/lightdm.conf.d/50-playclock-kiosk.conf"
  cmp kiosk/xorg.conf.d/10-playclock-kiosk.conf "$root/etc/X11/xorg.conf.d/10-playclock-kiosk.conf"
}
check "install-agent.sh --root: installs with the right modes" installs
idempotent() {
  echo '{"edited": true}' > "$root/etc/playclock/agent.json"
  chmod 666 "$root/etc/playclock/agent.json"
  ./scripts/install-agent.sh --root "$root" >"$work/again.out" || { cat "$work/again.out"; return 1; }
  grep -qx '{"edited": true}' "$root/etc/playclock/agent.json" || { echo "agent.json overwritten"; return 1; }
  [ "$(mode /etc/playclock/agent.json)" = 640 ] || { echo "a config writable by others was left so"; return 1; }
  ./scripts/install-agent.sh --root "$root" >"$work/third.out" || return 1
  grep -qx 'nothing to change' "$work/third.out" || { cat "$work/third.out"; return 1; }
}
check "install-agent.sh again: keeps the config, tightens its mode, then changes nothing" idempotent
greeter_placeholder() {
  mkdir -p "$root/etc/lightdm/lightdm.conf.d" "$root/etc/default"
  printf '[Seat:*]\nautologin-user=AUTOLOGIN-USER-NOT-CONFIGURED\n' > "$root/etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf"
  printf 'XKBLAYOUT="us,de"\nXKBOPTIONS="grp:alt_shift_toggle,terminate:ctrl_alt_bksp"\n' > "$root/etc/default/keyboard"
  ./scripts/install-agent.sh --root "$root" >/dev/null || return 1
  if grep -q '^autologin-user' "$root/etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf" ||
     ! grep -qx 'XKBOPTIONS="grp:alt_shift_toggle"' "$root/etc/default/keyboard"; then
    cat "$root/etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf" "$root/etc/default/keyboard"; return 1
  fi
}
check "install-agent.sh: the greeter's placeholder user and Ctrl-Alt-Backspace go, other XKB options stay" greeter_placeholder
refuses_bad_input() {
  local before; before=$(cd "$root" && find . -printf '%m %s %p\n' | sort)
  ! ./scripts/install-agent.sh --root "$root" --station 'PC 01/#' 2>/dev/null &&
    ! ./scripts/install-agent.sh --root "$root" --broker 'http://x' 2>/dev/null &&
    ! ./scripts/install-agent.sh --root "$root" --binary /nonexistent 2>/dev/null &&
    [ "$before" = "$(cd "$root" && find . -printf '%m %s %p\n' | sort)" ]
}
check "install-agent.sh: bad arguments are refused and change nothing" refuses_bad_input

echo "kiosk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
