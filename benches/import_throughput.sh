#!/usr/bin/env bash
# Import throughput: generates N orders (and 2 lines each) as CSV, then times
# `dawnpost import` of both files into a fresh SQLite store, or into PostgreSQL when
# DAWNPOST_BENCH_POSTGRES_URL names an empty database; then imports both files again,
# unchanged, as a nightly export that repeats its rows would.
#   usage: benches/import_throughput.sh [N]      (default 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# DAWNPOST_BENCH_BIN runs another build (an earlier release, side by side) on the same files.
if [ -z "${DAWNPOST_BENCH_BIN:-}" ]; then
    cargo build --release --quiet
fi
bin=${DAWNPOST_BENCH_BIN:-target/release/dawnpost}

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

url="sqlite://$work/bench.sqlite"
[ -n "${DAWNPOST_BENCH_POSTGRES_URL:-}" ] && url=$DAWNPOST_BENCH_POSTGRES_URL
cat > "$work/bench.toml" <<TOML
[shop]
name = "Bench"
timezone = "Europe/London"
currency = "GBP"
[store]
url = "$url"
TOML
export DAWNPOST_LOG=${DAWNPOST_LOG:-warn}
$bin --config "$work/bench.toml" import products fixtures/small/products.csv
ls -la "$work"/*.csv | awk '{print $5, $9}'
for pass in first again; do
    for t in orders order_lines; do
        /usr/bin/time -f "$t ($pass): %e s wall, %M KiB peak RSS" \
            $bin --config "$work/bench.toml" import $t "$work/$t.csv"
    done
done
