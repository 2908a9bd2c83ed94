#!/usr/bin/env bash
# Installs Playclock on a venue's hub box (Debian, run as root), secure by default:
#   - builds and installs playclockd, playclock and playclock-sim to /usr/local/bin;
#   - creates the `playclock` system user, /etc/playclock/playclockd.json (never overwritten);
#   - installs the Mosquitto fragment (no anonymous access, accounts, ACL, TLS, WebSockets);
#   - makes the venue CA and broker certificate if there is none (scripts/venue-ca.sh);
#   - creates the hub's broker account `playclock-hub` with a random password;
#   - creates the dashboard's (empty) password file and the wall board's token;
#   - generates the ACL from the venue file (or the existing database);
#   - installs the systemd unit, a drop-in raising Mosquitto's descriptor limit, and
#     (re)starts Mosquitto and the hub when systemd runs.
# Idempotent: run it again after an upgrade. Options:
#   --venue FILE        stations to import on first start (default samples/venue.json)
#   --server-name NAME  broker DNS name for the certificate (default: this host's name)
#   --server-ip IP      broker IP address for the certificate (repeatable)
set -euo pipefail
cd "$(dirname "$0")/.."

venue=samples/venue.json
ca_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --venue) venue="$2"; shift 2 ;;
    --server-name) ca_args+=(--server-name "$2"); shift 2 ;;
    --server-ip) ca_args+=(--server-ip "$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

./scripts/deps.sh
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl sqlite3 >/dev/null

echo "building (release)..."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
install -m 755 "$bin/playclockd" "$bin/playclock" "$bin/playclock-sim" /usr/local/bin/
install -d -m 755 /usr/local/share/doc/playclock
install -m 644 README.md topics.md docs/deployment.md /usr/local/share/doc/playclock/

id playclock >/dev/null 2>&1 || useradd --system --home-dir /var/lib/playclock --shell /usr/sbin/nologin playclock
install -d -m 750 -o root -g playclock /etc/playclock
install -d -m 750 -o playclock -g playclock /var/lib/playclock
[ -f /etc/playclock/venue.json ] || install -m 640 -g playclock "$venue" /etc/playclock/venue.json

# The hub's broker account: a random password only root and the hub can read.
if [ ! -f /etc/playclock/hub.password ]; then
  (umask 027; head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 32 > /etc/playclock/hub.password)
  chgrp playclock /etc/playclock/hub.password
fi
playclock broker passwd playclock-hub --file /etc/mosquitto/playclock.passwd --password-file /etc/playclock/hub.password
chown root:mosquitto /etc/mosquitto/playclock.passwd && chmod 640 /etc/mosquitto/playclock.passwd

if [ ! -f /etc/playclock/playclockd.json ]; then
  cat > /etc/playclock/playclockd.json <<JSON
{
  "broker": "mqtts://localhost:8883",
  "tls_ca_file": "/etc/mosquitto/certs/ca.crt",
  "username": "playclock-hub",
  "password_file": "/etc/playclock/hub.password",
  "client_id": "playclock-hub",
  "venue": "/etc/playclock/venue.json",
  "roles": {},
  "http": {
    "listen": "127.0.0.1:8080",
    "users_file": "/etc/playclock/dashboard.passwd",
    "board_token_file": "/etc/playclock/board.token"
  }
}
JSON
  chmod 640 /etc/playclock/playclockd.json && chgrp playclock /etc/playclock/playclockd.json
  echo "wrote /etc/playclock/playclockd.json: add staff accounts under \"roles\""
fi

# Dashboard sign-in passwords (playclock dashboard passwd NAME) and the wall board's token:
# readable by the hub, written by root.
[ -f /etc/playclock/dashboard.passwd ] || install -m 640 -o root -g playclock /dev/null /etc/playclock/dashboard.passwd
if [ ! -f /etc/playclock/board.token ]; then
  playclock dashboard board-token --out /etc/playclock/board.token >/dev/null
  chgrp playclock /etc/playclock/board.token && chmod 640 /etc/playclock/board.token
fi

[ -f /etc/mosquitto/certs/ca.crt ] || ./scripts/venue-ca.sh --dir /etc/mosquitto/certs --server-name localhost "${ca_args[@]}"
install -m 644 mosquitto/playclock.conf /etc/mosquitto/conf.d/playclock.conf

if [ -f /var/lib/playclock/playclock.sqlite ]; then
  playclock broker acl --database /var/lib/playclock/playclock.sqlite --config /etc/playclock/playclockd.json --out /etc/mosquitto/playclock.acl
else
  playclock broker acl --venue /etc/playclock/venue.json --config /etc/playclock/playclockd.json --out /etc/mosquitto/playclock.acl
fi
chown root:mosquitto /etc/mosquitto/playclock.acl && chmod 640 /etc/mosquitto/playclock.acl

install -m 644 systemd/playclockd.service /etc/systemd/system/playclockd.service
# Debian's mosquitto.service leaves the broker at 1024 open descriptors: one per client.
install -d -m 755 /etc/systemd/system/mosquitto.service.d
install -m 644 systemd/mosquitto.service.d/playclock.conf /etc/systemd/system/mosquitto.service.d/playclock.conf
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now mosquitto playclockd
  systemctl restart mosquitto playclockd
  echo "playclockd is running: systemctl status playclockd"
else
  echo "systemd is not running here: start mosquitto and playclockd yourself (units installed)."
fi
echo "next: accounts for agents, plugs and staff (docs/deployment.md)"
