#!/usr/bin/env bash
# The marketing sources' syncs from local replay servers (benches/ads_replay.py): two years
# of GA4 days by channel group (730 × 14 = 10,220 rows, 11 pages of 1,000), and of Google
# Ads and Meta campaign-days (730 × 28 = 20,440 rows each: one searchStream in batches of
# 10,000; Meta 100 rows a page by cursor, 205 pages). Each sync runs RUNS times into a fresh
# SQLite store, interleaved; the figures are the whole process's wall time and peak RSS
# (/usr/bin/time), and rows/s is the platform's rows over that time.
#   usage: benches/ads_sync.sh [RUNS]          (default 3)
# DAWNPOST_BENCH_BIN runs another build on the same servers.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
days=730 groups=14 campaigns=28
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "${DAWNPOST_BENCH_BIN:-}" ]; then
    cargo build --release --quiet
fi
bin=${DAWNPOST_BENCH_BIN:-$PWD/target/release/dawnpost}

(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=dawnpost bench CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem \
        -days 2 -extfile leaf.ext 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.pem 2>/dev/null
)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 benches/ads_replay.py "$port" "$work/leaf.pem" "$work/leaf.key" $days $groups $campaigns > "$work/server.out" &
pid=$!
for _ in $(seq 100); do grep -q READY "$work/server.out" 2>/dev/null && break; sleep 0.2; done
python3 - "$work" "$port" <<'PY'
import json, sys
work, port = sys.argv[1], sys.argv[2]
key = open(f"{work}/sa.pem").read()
json.dump({"type": "service_account", "client_email": "bench@p.iam.gserviceaccount.com",
           "private_key_id": "k", "private_key": key, "token_uri": f"https://127.0.0.1:{port}/token"},
          open(f"{work}/sa.json", "w"))
PY
for f in id secret refresh token; do printf 'bench' > "$work/$f"; done
cat > "$work/shop.toml" <<TOML
[shop]
name = "Bench"
timezone = "America/New_York"
currency = "USD"
[store]
url = "sqlite://$work/shop.sqlite"

[[sources]]
name = "ga"
kind = "ga4"
property = "123456789"
credentials_file = "$work/sa.json"
endpoint = "https://127.0.0.1:$port"
ca_file = "$work/ca.pem"

[[sources]]
name = "ads"
kind = "google-ads"
customer = "123-456-7890"
client_id_file = "$work/id"
client_secret_file = "$work/secret"
refresh_token_file = "$work/refresh"
token_url = "https://127.0.0.1:$port/token"
endpoint = "https://127.0.0.1:$port"
ca_file = "$work/ca.pem"

[[sources]]
name = "meta"
kind = "meta-ads"
account = "act_111"
access_token_file = "$work/token"
endpoint = "https://127.0.0.1:$port"
ca_file = "$work/ca.pem"
TOML
export DAWNPOST_LOG=${DAWNPOST_LOG:-warn}
ga_rows=$((days * groups))
ad_rows=$((days * campaigns))
for r in $(seq "$runs"); do
    for pair in "ga:$ga_rows" "ads:$ad_rows" "meta:$ad_rows"; do
        src=${pair%%:*} rows=${pair##*:}
        rm -f "$work"/shop.sqlite*
        /usr/bin/time -o "$work/t" -f "%e %M" "$bin" --config "$work/shop.toml" sync --source "$src" \
            --since 2024-03-07 > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
        read -r secs kb < "$work/t"
        reqs=$(grep -o '[0-9]* requests' "$work/out" | head -1)
        awk -v l="$src" -v s="$secs" -v n="$rows" -v kb="$kb" -v q="$reqs" \
            'BEGIN { printf "%-5s %6d rows %6.2f s %8.0f rows/s  peak RSS %4d MB  %s\n", l, n, s, n / s, kb / 1024, q }'
    done
done
