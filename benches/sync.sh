#!/usr/bin/env bash
# A Shopify source's first sync against importing the same orders as a Shopify export, and
# an incremental sync of one day.
#   usage: benches/sync.sh [N] [RUNS]          (default 100000 orders, 3 runs)
# benches/shopify_replay.py writes N orders (1-4 lines each, about 2.5N) as a bulk
# operation's JSONL and as a Shopify orders export, and serves the Admin API over HTTPS on
# 127.0.0.1 with a throwaway CA. Then, RUNS times and interleaved, each into a fresh SQLite
# store:
#   sync    `dawnpost sync`: sign-in, shop, products, the bulk operation and its JSONL
#           streamed into the store (orders, lines, products, customer types, rollups);
#   import  `dawnpost import shopify.csv` of the same orders.
# Before them, the JSONL is downloaded twice with curl: the replay server's own pace (Python,
# on the same cores), which a sync cannot beat.
# Each run's wall time and peak RSS are the whole process's (/usr/bin/time); a rate is the
# order lines over that time. Last, on the synced store, `dawnpost sync` again: the server
# answers with 300 orders of the next day in pages of 4, and the figures are its wall time
# and the days whose rollups it rebuilt.
# DAWNPOST_BENCH_BIN runs another build on the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
runs=${2:-3}
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
)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 benches/shopify_replay.py "$work" "$n" "$port" "$work/leaf.pem" "$work/leaf.key" > "$work/server.out" &
pid=$!
for _ in $(seq 600); do grep -q READY "$work/server.out" 2>/dev/null && break; sleep 0.5; done
grep -q READY "$work/server.out" || { echo "the replay server did not start" >&2; exit 1; }
lines=$(($(wc -l < "$work/shopify.csv") - 1))
echo "$n orders, $lines order lines; bulk JSONL $(wc -c < "$work/bulk.jsonl") bytes, export $(wc -c < "$work/shopify.csv") bytes"
# The replay server's own pace: the JSONL downloaded and thrown away (a sync cannot be faster).
for _ in 1 2; do
    curl -s --cacert "$work/ca.pem" -o /dev/null -w 'download of the JSONL alone: %{time_total} s\n' \
        "https://127.0.0.1:$port/bulk.jsonl"
done
printf 'bench-client' > "$work/id"
printf 'bench-secret' > "$work/secret"

config() { # name with-source
    cat > "$work/$1.toml" <<TOML
[shop]
name = "Bench"
timezone = "America/New_York"
currency = "USD"
[store]
url = "sqlite://$work/$1.sqlite"
TOML
    if [ "$2" = 1 ]; then
        cat >> "$work/$1.toml" <<TOML
[[sources]]
name = "shop"
kind = "shopify"
shop = "bench.myshopify.com"
client_id_file = "$work/id"
client_secret_file = "$work/secret"
endpoint = "https://127.0.0.1:$port"
ca_file = "$work/ca.pem"
history_days = 3650
lookback_days = 0
TOML
    fi
}
config sync 1
config import 0
export DAWNPOST_LOG=${DAWNPOST_LOG:-warn}

measure() { # label command...
    local label=$1
    shift
    /usr/bin/time -o "$work/t" -f "%e %M" "$@" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    read -r secs kb < "$work/t"
    awk -v l="$label" -v s="$secs" -v n="$lines" -v kb="$kb" \
        'BEGIN { printf "%-7s %6.2f s  %7.0f lines/s  peak RSS %4d MB\n", l, s, n / s, kb / 1024 }'
}
for r in $(seq "$runs"); do
    rm -f "$work"/sync.sqlite* "$work"/import.sqlite*
    measure sync "$bin" --config "$work/sync.toml" sync
    measure import "$bin" --config "$work/import.toml" import "$work/shopify.csv"
done
/usr/bin/time -o "$work/t" -f "%e %M" "$bin" --config "$work/sync.toml" sync > "$work/out" 2>&1
read -r secs kb < "$work/t"
echo "incremental: $secs s, peak RSS $((kb / 1024)) MB: $(grep -o 'source shop.*' "$work/out")"
