#!/usr/bin/env bash
# Creates a venue certificate authority, the broker's server certificate and, optionally,
# client certificates (for PC agents: CN = station id), with OpenSSL. Idempotent: existing
# files are kept unless --force is given (then the CA and every certificate named are made
# anew, and every device must get the new ca.crt).
set -euo pipefail

usage() {
  cat <<'TXT'
usage: scripts/venue-ca.sh --dir DIR [--server-name NAME]... [--server-ip IP]... [--client NAME]... [--force]

Creates, in DIR (a venue install uses /etc/mosquitto/certs):
  ca.crt, ca.key          the venue CA (EC P-256, 10 years); created only if ca.crt is missing
  server.crt, server.key  the broker's certificate (2 years), subjectAltName = the names and IPs
  clients/NAME.crt/.key   a client certificate per --client (2 years), CN = NAME
Keys are mode 600 (server.key owned by the mosquitto user if it exists), certificates 644.

  --dir DIR           output directory (created if missing)
  --server-name NAME  DNS name clients use to reach the broker (repeatable;
                      default: this host's name)
  --server-ip IP      IP address clients use to reach the broker (repeatable)
  --client NAME       also make a client certificate with CN=NAME (repeatable;
                      for an agent, NAME = its station id)
  --force             replace the CA and the server/client certificates
  -h, --help          this text

Existing certificates are kept: a server certificate that does not verify against the CA
is replaced. To change the broker's names or IPs, delete server.crt and run again.
TXT
}

dir="" force=0
names=() ips=() clients=()
need() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "$1 needs a value" >&2; usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) need "$@"; dir="$2"; shift 2 ;;
    --server-name) need "$@"; names+=("$2"); shift 2 ;;
    --server-ip) need "$@"; ips+=("$2"); shift 2 ;;
    --client) need "$@"; clients+=("$2"); shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || { usage >&2; exit 2; }
[ ${#names[@]} -gt 0 ] || names=("$(hostname -f 2>/dev/null || hostname)")
for c in "${clients[@]}"; do
  [[ "$c" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "invalid client name: $c (1-64 of A-Z a-z 0-9 _ . -)" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$dir/clients"
chmod 755 "$dir" "$dir/clients"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The CA. Its key may be kept offline once the certificates are made: ca.crt alone is enough
# for the broker and the clients, and it is never overwritten without --force.
if [ ! -f "$dir/ca.crt" ] || [ "$force" -eq 1 ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
    -subj "/O=Playclock venue/CN=Playclock venue CA $(date -u +%Y%m%d%H%M%S)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  chmod 600 "$dir/ca.key"
  chmod 644 "$dir/ca.crt"
  echo "wrote $dir/ca.crt (venue CA, 10 years; copy it to every client)"
  echo "wrote $dir/ca.key (keep it secret; offline if you can)"
else
  echo "kept  $dir/ca.crt (existing CA; --force to replace)"
fi

# Signs a certificate request: sign NAME SUBJECT EXTENSIONS (NAME.key and NAME.crt).
sign() {
  [ -f "$dir/ca.key" ] || { echo "$dir/ca.key is missing: put the CA key back to make $1.crt" >&2; exit 1; }
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
  chmod 600 "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$tmp/req.csr"
  printf '%s\n' "$3" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$tmp/ext.cnf"
  openssl x509 -req -in "$tmp/req.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 730 -extfile "$tmp/ext.cnf" -out "$1.crt" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; exit 1; }
  chmod 644 "$1.crt"
}

# The broker's certificate: clients check that the name or IP they connect to is in it.
san=""
for n in "${names[@]}"; do san+="${san:+,}DNS:$n"; done
for ip in "${ips[@]}"; do san+="${san:+,}IP:$ip"; done
if [ ! -f "$dir/server.crt" ] || [ "$force" -eq 1 ] || ! openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null 2>&1; then
  sign "$dir/server" "/CN=${names[0]}" "$(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth' "$san")"
  echo "wrote $dir/server.crt ($san, 2 years)"
  echo "wrote $dir/server.key"
else
  echo "kept  $dir/server.crt ($(openssl x509 -in "$dir/server.crt" -noout -ext subjectAltName | tail -n +2 | tr -d ' '))"
fi
# Mosquitto reads its key as the mosquitto user (after dropping root, e.g. on restart).
if id mosquitto >/dev/null 2>&1; then chown mosquitto "$dir/server.key"; fi
chmod 600 "$dir/server.key"

# Client certificates: for agents that authenticate with a certificate as well (CN = station id).
for c in "${clients[@]}"; do
  if [ ! -f "$dir/clients/$c.crt" ] || [ "$force" -eq 1 ]; then
    sign "$dir/clients/$c" "/CN=$c" "extendedKeyUsage=clientAuth"
    echo "wrote $dir/clients/$c.crt and $dir/clients/$c.key (CN=$c)"
  else
    echo "kept  $dir/clients/$c.crt"
  fi
done

openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt"
