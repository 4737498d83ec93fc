#!/usr/bin/env bash
# Shopify import throughput, side by side with dawnpost's own CSV: writes a Shopify orders
# export of N orders (1-3 line items each, about 2N lines; benches/shopify_orders.py) and
# the files of benches/import_throughput.sh for the same N (N orders, 2N order lines), then
# times, RUNS times and interleaved:
#   shopify  `dawnpost import` of the export into a fresh SQLite store (a shop's first import:
#            orders, lines, products, refunds, customer types, rollups);
#   lines    `dawnpost import order_lines` of the 2N lines into a fresh copy of a store that
#            holds their N orders (the table import's figure in the README).
# Each run's wall time and peak RSS are the whole process's (/usr/bin/time); a rate is the
# file's order lines over that time.
#   usage: benches/shopify_throughput.sh [N] [RUNS]      (default 500000 and 3)
# DAWNPOST_BENCH_BIN runs another build (an earlier release, side by side) on the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500000}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DAWNPOST_BENCH_BIN:-}" ]; then
    cargo build --release --quiet
fi
bin=${DAWNPOST_BENCH_BIN:-target/release/dawnpost}

python3 benches/shopify_orders.py "$n" > "$work/shopify.csv"
python3 - "$work" "$n" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/orders.csv", "w") as f:
    f.write("order_id,placed_at,channel,customer_id,customer_type,discount,status\n")
    for i in range(n):
        f.write(f"B{i:09d},2025-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00,organic,c{i % 50000},new,0,delivered\n")
with open(f"{work}/order_lines.csv", "w") as f:
    f.write("order_id,sku,quantity,unit_price\n")
    for i in range(n):
        f.write(f"B{i:09d},A,1,10.00\nB{i:09d},B,2,25.00\n")
PY
# Order lines in each file: the Shopify export has one row per line item.
shopify_lines=$(($(wc -l < "$work/shopify.csv") - 1))
table_lines=$(($(wc -l < "$work/order_lines.csv") - 1))

config() {
    cat > "$work/$1.toml" <<TOML
[shop]
name = "Bench"
timezone = "America/New_York"
currency = "USD"
[store]
url = "sqlite://$work/$1.sqlite"
TOML
}
export DAWNPOST_LOG=${DAWNPOST_LOG:-warn}
config orders
$bin --config "$work/orders.toml" import products fixtures/small/products.csv > "$work/log" 2>&1
$bin --config "$work/orders.toml" import orders "$work/orders.csv" >> "$work/log" 2>&1
config shopify
config lines
ls -la "$work"/*.csv | awk '{print $5, $9}'
echo "shopify: $shopify_lines order lines; lines: $table_lines order lines"

# One timed import: its wall seconds, peak RSS (KiB) and lines per second.
timed() {
    local name=$1 lines=$2
    shift 2
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >> "$work/log" 2>&1 || {
        cat "$work/log"
        exit 1
    }
    read -r secs kib < "$work/time"
    local rate
    rate=$(python3 -c "print(round($lines / $secs))")
    echo "$name $secs $kib $rate" >> "$work/results"
    printf '%-8s %6.2f s  %7d lines/s  %4d MB peak RSS\n' "$name" "$secs" "$rate" $((kib / 1024))
}
for run in $(seq "$runs"); do
    echo "run $run"
    rm -f "$work"/shopify.sqlite*
    timed shopify "$shopify_lines" $bin --config "$work/shopify.toml" import "$work/shopify.csv"
    rm -f "$work"/lines.sqlite*
    cp "$work/orders.sqlite" "$work/lines.sqlite"
    timed lines "$table_lines" $bin --config "$work/lines.toml" import order_lines \
        "$work/order_lines.csv"
done
echo "ranges over $runs runs (wall s, lines/s, peak RSS MB):"
for name in shopify lines; do
    awk -v name="$name" '$1 == name {
        if (n == 0 || $2 < s0) s0 = $2; if (n == 0 || $2 > s1) s1 = $2;
        if (n == 0 || $4 < r0) r0 = $4; if (n == 0 || $4 > r1) r1 = $4;
        if (n == 0 || $3 < m0) m0 = $3; if (n == 0 || $3 > m1) m1 = $3; n++ }
        END { printf "%-8s %.2f-%.2f s  %d-%d lines/s  %d-%d MB\n", name, s0, s1, r0, r1, m0 / 1024, m1 / 1024 }' \
        "$work/results"
done
