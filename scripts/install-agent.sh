#!/usr/bin/env bash
# Installs the Playclock agent on a venue's gaming PC (Debian, run as root) as a kiosk:
#   - installs the Debian packages it runs with (X, LightDM and its autologin greeter, Openbox,
#     fonts, libmosquitto, the X libraries, polkit);
#   - installs the given playclock-agent binary to /usr/local/bin;
#   - creates the kiosk account `playclock-kiosk` (locked password, no shell, no sudo);
#   - writes /etc/playclock/agent.json from samples/agent.json (never overwritten) and the
#     station's broker password file /etc/playclock/agent.password, both 0640 root:playclock-kiosk;
#   - creates the lease directory /var/lib/playclock-agent (0700 playclock-kiosk);
#   - installs the kiosk files (kiosk/: X server flags, LightDM autologin, the session, logind,
#     polkit, sysctl, Openbox), makes LightDM the display manager, and prints what to edit next.
# Idempotent: run it again after an upgrade (files are replaced only when they differ; the
# config and the password are never overwritten unless given again). Options:
#   --binary FILE         the playclock-agent to install (required the first time)
#   --station ID          station id (and broker username) written into a new agent.json
#   --broker URL          broker written into a new agent.json (mqtts://HOST:8883)
#   --ca-file FILE        the venue CA (the hub's /etc/mosquitto/certs/ca.crt)
#   --password-file FILE  the station's broker password (`playclock broker passwd ID` on the hub)
#   --dry-run             print what it would do and change nothing
#   --root DIR            install the files under DIR instead of / (a staging tree: no packages,
#                         accounts or services)
#   -h, --help            this text
set -euo pipefail
cd "$(dirname "$0")/.."

kiosk_user=playclock-kiosk
binary="" station="" broker="" ca_file="" password_file="" dry_run=false root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
    --station) station="${2:?--station needs an id}"; shift 2 ;;
    --broker) broker="${2:?--broker needs a URL}"; shift 2 ;;
    --ca-file) ca_file="${2:?--ca-file needs a file}"; shift 2 ;;
    --password-file) password_file="${2:?--password-file needs a file}"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "install-agent: $*" >&2; exit 1; }

root="${root%/}"
[ -z "$root" ] || [ -d "$root" ] || die "--root $root: no such directory"
[ -z "$root" ] || root="$(cd "$root" && pwd)"
[ "$root" != "/" ] || root=""
staging=false
[ -z "$root" ] || staging=true
if ! $staging && ! $dry_run && [ "$(id -u)" -ne 0 ]; then die "run as root (or try --dry-run)"; fi

# Bad input changes nothing: every argument is checked before the first change.
if [ -n "$station" ] && ! [[ "$station" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  die "--station $station: a station id is 1 to 64 characters of A-Z a-z 0-9 _ -"
fi
if [ -n "$broker" ] && ! [[ "$broker" =~ ^mqtts?://[A-Za-z0-9.-]+:[0-9]{1,5}$ ]]; then
  die "--broker $broker: expected mqtts://HOST:PORT (or mqtt://HOST:PORT)"
fi
for f in "$binary" "$ca_file" "$password_file"; do
  [ -z "$f" ] || [ -f "$f" ] || die "$f: no such file"
done
if [ -n "$binary" ]; then
  [ -x "$binary" ] || die "$binary is not executable"
  # The gaming PC has no Swift toolchain: a binary linked against the Swift runtime's shared
  # libraries will not start there. Build it with `swift build -c release --static-swift-stdlib
  # --product playclock-agent`.
  if missing=$(ldd "$binary" 2>/dev/null | grep 'not found'); then
    die "$binary needs libraries this machine does not have (build with --static-swift-stdlib, or install them):
$missing"
  fi
fi
if [ -z "$binary" ] && [ ! -x "$root/usr/local/bin/playclock-agent" ] && ! $dry_run; then
  die "no playclock-agent installed yet: give --binary FILE"
fi

changed=0
note() { echo "$*"; }
# act DESCRIPTION CMD...: runs CMD, or only prints DESCRIPTION with --dry-run.
act() {
  local what=$1; shift
  if $dry_run; then note "would: $what"; else "$@"; note "done: $what"; fi
  changed=$((changed + 1))
}

# Owner flags for install(1): in a staging tree the kiosk account may not exist on this machine.
owner_flags() { # USER GROUP
  local u=$1 g=$2
  if id "$u" >/dev/null 2>&1 && getent group "$g" >/dev/null 2>&1; then echo "-o $u -g $g"
  elif $staging || $dry_run; then echo ""
  else die "no account $u / group $g"
  fi
}
# The mode and owner a path should have, checked with stat.
has_attrs() { # PATH MODE USER GROUP
  local want_mode=$2 want_owner="$3:$4" mode owner
  mode=$(stat -c '%a' "$1") owner=$(stat -c '%U:%G' "$1")
  [ "$mode" = "${want_mode#0}" ] || return 1
  [ -z "$(owner_flags "$3" "$4")" ] || [ "$owner" = "$want_owner" ]
}
# put SOURCE DEST MODE [USER GROUP]: installs SOURCE as DEST when it differs or has other
# attributes.
put() {
  local src=$1 dest=$root$2 mode=$3 user=${4:-root} group=${5:-root}
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && has_attrs "$dest" "$mode" "$user" "$group"; then return 0; fi
  # shellcheck disable=SC2046
  act "install $2 ($mode $user:$group)" install -D -m "$mode" $(owner_flags "$user" "$group") "$src" "$dest"
}
# dir PATH MODE USER GROUP
dir() {
  local dest=$root$1
  if [ -d "$dest" ] && has_attrs "$dest" "$2" "$3" "$4"; then return 0; fi
  # shellcheck disable=SC2046
  act "directory $1 ($2 $3:$4)" install -d -m "$2" $(owner_flags "$3" "$4") "$dest"
}
# attrs PATH MODE USER GROUP: an existing file keeps its content, but not looser permissions.
attrs() {
  local dest=$root$1
  has_attrs "$dest" "$2" "$3" "$4" && return 0
  local flags; flags=$(owner_flags "$3" "$4")
  # shellcheck disable=SC2016
  if [ -n "$flags" ]; then act "set $1 to $2 $3:$4" sh -c 'chown "$1:$2" "$4" && chmod "$3" "$4"' sh "$3" "$4" "$2" "$dest"
  else act "set $1 to $2" chmod "$2" "$dest"; fi
}

# 1. Debian packages.
packages=(xserver-xorg lightdm lightdm-autologin-greeter openbox fonts-dejavu-core libmosquitto1
  libx11-6 libxrandr2 libxft2 libxext6 polkitd dbus libpam-systemd)
if $staging; then
  note "staging tree $root: packages, the kiosk account and services are left alone"
else
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    act "apt-get install ${missing[*]}" sh -c 'apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null' sh "${missing[@]}"
  fi
fi

# 2. The kiosk account: the customer's desktop runs as it. Its password is locked ("!", not
# empty: an empty one would let anyone log in on a console), its shell is nologin, it is in no
# group that may sudo, and its home is where games keep their files.
if ! $staging; then
  if ! id "$kiosk_user" >/dev/null 2>&1; then
    act "create account $kiosk_user (locked password, /usr/sbin/nologin)" \
      useradd --create-home --home-dir "/home/$kiosk_user" --shell /usr/sbin/nologin --user-group \
        --comment "Playclock kiosk (the customers' desktop)" "$kiosk_user"
  fi
  if id "$kiosk_user" >/dev/null 2>&1; then
    [ "$(passwd -S "$kiosk_user" | awk '{print $2}')" = "L" ] || act "lock the password of $kiosk_user" passwd -q -l "$kiosk_user"
    for g in sudo wheel adm admin; do
      if id -nG "$kiosk_user" | tr ' ' '\n' | grep -qx "$g"; then act "remove $kiosk_user from group $g" gpasswd -d "$kiosk_user" "$g"; fi
    done
  fi
fi

# 3. The agent, its config, its secrets and its lease.
[ -z "$binary" ] || put "$binary" /usr/local/bin/playclock-agent 0755
dir /etc/playclock 0750 root "$kiosk_user"
dir /var/lib/playclock-agent 0700 "$kiosk_user" "$kiosk_user"
if [ ! -f "$root/etc/playclock/agent.json" ]; then
  config=$(mktemp); trap 'rm -f "$config"' EXIT
  cp samples/agent.json "$config"
  if [ -n "$station" ]; then
    sed -i -E "s/(\"(station|username)\": )\"PC-01\"/\1\"$station\"/; s/(\"station_name\": )\"PC 01\"/\1\"$station\"/" "$config"
  fi
  [ -z "$broker" ] || sed -i -E "s#(\"broker\": )\"[^\"]*\"#\1\"$broker\"#" "$config"
  put "$config" /etc/playclock/agent.json 0640 root "$kiosk_user"
else
  attrs /etc/playclock/agent.json 0640 root "$kiosk_user"
fi
if [ -n "$password_file" ]; then
  put "$password_file" /etc/playclock/agent.password 0640 root "$kiosk_user"
elif [ ! -f "$root/etc/playclock/agent.password" ]; then
  put /dev/null /etc/playclock/agent.password 0640 root "$kiosk_user"
else
  attrs /etc/playclock/agent.password 0640 root "$kiosk_user"
fi
[ -z "$ca_file" ] || put "$ca_file" /etc/playclock/venue-ca.pem 0644

# 4. The kiosk: X server flags, the session, LightDM, logind, polkit, sysctl, Openbox.
put kiosk/xorg.conf.d/10-playclock-kiosk.conf /etc/X11/xorg.conf.d/10-playclock-kiosk.conf 0644
put kiosk/playclock-kiosk-session /usr/local/libexec/playclock-kiosk-session 0755
put kiosk/playclock-kiosk.desktop /usr/share/xsessions/playclock-kiosk.desktop 0644
put kiosk/lightdm/50-playclock-kiosk.conf /etc/lightdm/lightdm.conf.d/50-playclock-kiosk.conf 0644
put kiosk/logind.conf.d/50-playclock-kiosk.conf /etc/systemd/logind.conf.d/50-playclock-kiosk.conf 0644
put kiosk/polkit/50-playclock-kiosk.rules /etc/polkit-1/rules.d/50-playclock-kiosk.rules 0644
put kiosk/sysctl.d/90-playclock-kiosk.conf /etc/sysctl.d/90-playclock-kiosk.conf 0644
put kiosk/openbox/rc.xml /etc/playclock/openbox/rc.xml 0644

# The autologin greeter ships /etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf with
# `autologin-user=AUTOLOGIN-USER-NOT-CONFIGURED` for the admin to edit; it sorts after
# 50-playclock-kiosk.conf and would win, so the placeholder is commented out.
greeter_conf=$root/etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf
if [ -f "$greeter_conf" ] && grep -q '^[[:space:]]*autologin-user[[:space:]]*=' "$greeter_conf"; then
  act "comment out autologin-user in /etc/lightdm/lightdm.conf.d/lightdm-autologin-greeter.conf (50-playclock-kiosk.conf sets it)" \
    sed -i -E 's/^([[:space:]]*autologin-user[[:space:]]*=.*)$/# \1  (set in 50-playclock-kiosk.conf)/' "$greeter_conf"
fi
# Ctrl-Alt-Backspace as a keymap action: keep the venue's other XKB options.
keyboard=$root/etc/default/keyboard
if [ -f "$keyboard" ] && grep -q '^XKBOPTIONS=.*terminate:ctrl_alt_bksp' "$keyboard"; then
  act "remove terminate:ctrl_alt_bksp from XKBOPTIONS in /etc/default/keyboard" \
    sed -i -E '/^XKBOPTIONS=/{s/terminate:ctrl_alt_bksp,?//; s/,"$/"/}' "$keyboard"
fi

# 5. Boot into LightDM.
if ! $staging; then
  if [ -d /run/systemd/system ]; then
    [ "$(systemctl get-default)" = graphical.target ] || act "boot to graphical.target" systemctl set-default graphical.target
    [ "$(readlink -f /etc/systemd/system/display-manager.service 2>/dev/null)" = "$(readlink -f /lib/systemd/system/lightdm.service)" ] ||
      act "make LightDM the display manager" sh -c 'echo /usr/sbin/lightdm > /etc/X11/default-display-manager && systemctl enable --force lightdm.service'
    act "apply /etc/sysctl.d/90-playclock-kiosk.conf now" sysctl -q -p /etc/sysctl.d/90-playclock-kiosk.conf
  else
    note "systemd is not running here: make LightDM the display manager and boot to graphical.target yourself"
  fi
  if ! $dry_run && command -v lightdm >/dev/null; then
    shown=$(lightdm --show-config 2>&1 || true)
    for want in "autologin-user=$kiosk_user" "autologin-session=playclock-kiosk" "greeter-session=lightdm-autologin-greeter" \
        "session-wrapper=/usr/local/libexec/playclock-kiosk-session"; do
      grep -q -- "$want\$" <<<"$shown" || die "lightdm --show-config does not say $want: another file in /etc/lightdm overrides it:
$shown"
    done
  fi
fi

if [ "$changed" -eq 0 ]; then note "nothing to change"; fi
$dry_run && exit 0
cat <<TEXT
next:
  1. edit $root/etc/playclock/agent.json: station, station_name, username (the station id),
     broker (mqtts://<hub>:8883), venue_name, session_command (docs/agent.md has every key);
  2. on the hub: playclock broker passwd <station> (prints its password), regenerate the ACL
     (docs/deployment.md); put the password in $root/etc/playclock/agent.password
     (or run this again with --password-file FILE);
  3. copy the hub's /etc/mosquitto/certs/ca.crt to $root/etc/playclock/venue-ca.pem (--ca-file FILE);
  4. reboot: LightDM logs $kiosk_user in and the agent shows the lock screen until the hub unlocks it.
TEXT
