#!/usr/bin/env bash
# Creates a venue certificate authority and the broker's server certificate, and optionally
# client certificates (for agents: CN = station id). Idempotent: an existing CA is kept unless
# --force is given; an existing server or client certificate is kept unless --force.
set -euo pipefail

usage() {
  cat <<'TXT'
usage: scripts/venue-ca.sh --dir DIR [--server-name NAME]... [--server-ip IP]... [--client NAME]... [--force]

  --dir DIR           where ca.crt/ca.key, server.crt/server.key and clients/NAME.{crt,key} go
                      (a venue install uses /etc/mosquitto/certs)
  --server-name NAME  DNS name clients use for the broker (repeatable; default: this host's name)
  --server-ip IP      IP address clients use for the broker (repeatable)
  --client NAME       also make a client certificate with CN=NAME (repeatable)
  --force             replace existing certificates
TXT
}

dir="" force=0
names=() ips=() clients=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --server-name) names+=("$2"); shift 2 ;;
    --server-ip) ips+=("$2"); shift 2 ;;
    --client) clients+=("$2"); shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || { usage >&2; exit 2; }
[ ${#names[@]} -gt 0 ] || names=("$(hostname -f 2>/dev/null || hostname)")
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$dir/clients"

if [ ! -f "$dir/ca.key" ] || [ "$force" -eq 1 ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=Playclock venue CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.crt"
  echo "wrote $dir/ca.crt and $dir/ca.key (keep ca.key offline if you can)"
fi

# Signs $1.csr into $1.crt with the extensions file $2.
sign() {
  openssl x509 -req -in "$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -sha256 -days 730 \
    -extfile "$2" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$2"
}

if [ ! -f "$dir/server.crt" ] || [ "$force" -eq 1 ]; then
  san=""
  for n in "${names[@]}"; do san+="${san:+,}DNS:$n"; done
  for ip in "${ips[@]}"; do san+="${san:+,}IP:$ip"; done
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server.key"
  openssl req -new -key "$dir/server.key" -subj "/CN=${names[0]}" -out "$dir/server.csr"
  ext=$(mktemp)
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san" > "$ext"
  sign "$dir/server" "$ext"
  echo "wrote $dir/server.crt ($san)"
fi

for c in "${clients[@]}"; do
  [[ "$c" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "invalid client name: $c" >&2; exit 2; }
  if [ ! -f "$dir/clients/$c.crt" ] || [ "$force" -eq 1 ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/clients/$c.key"
    openssl req -new -key "$dir/clients/$c.key" -subj "/CN=$c" -out "$dir/clients/$c.csr"
    ext=$(mktemp)
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' > "$ext"
    sign "$dir/clients/$c" "$ext"
    echo "wrote $dir/clients/$c.crt"
  fi
done

# The broker reads these as the mosquitto user; keys stay private, certificates are public.
chmod 755 "$dir"
chmod 644 "$dir/ca.crt" "$dir/server.crt"
chmod 600 "$dir/ca.key"
if id mosquitto >/dev/null 2>&1; then
  chown mosquitto "$dir/server.key" 2>/dev/null || true
fi
chmod 600 "$dir/server.key"
openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null
