#!/usr/bin/env bash
# The scaling benchmark (issue 15): demo stores of about 100k, 1M and 10M order lines on
# SQLite, and on PostgreSQL (a throwaway local cluster), then `preview` and `metrics` timed on
# each, interleaved store by store and run by run, so that a noisy machine slows every size
# alike. Prints, per store: order lines, the time to generate it, preview and metrics
# (median and range, in ms) with their ratio to the smallest store's median, and peak RSS.
#
# Run by hand, not in CI (10M order lines take a few minutes to generate and 2-3 GB of disk):
#   benches/scale.sh                      # SQLite and PostgreSQL, 5 runs each
#   SCALES="1.2 12" RUNS=3 benches/scale.sh
#   BACKENDS=sqlite benches/scale.sh
# Stores are kept in $WORK (default /tmp/dawnpost-scale) and generated again only when
# missing; `rm -rf $WORK` to start afresh.
set -euo pipefail

cd "$(dirname "$0")/.."
SCALES=${SCALES:-"1.2 12 120"}
RUNS=${RUNS:-5}
BACKENDS=${BACKENDS:-"sqlite postgres"}
WORK=${WORK:-/tmp/dawnpost-scale}
END=2026-12-01
PGPORT=${PGPORT:-55439}
mkdir -p "$WORK"

# DAWNPOST_BENCH_BIN runs another build (a copy, or an earlier release) instead.
if [ -z "${DAWNPOST_BENCH_BIN:-}" ]; then
    cargo build --release --quiet
fi
BIN=${DAWNPOST_BENCH_BIN:-$PWD/target/release/dawnpost}

# A config per store: the demo shop's, pointed at that store, without the [demo] section (so
# `preview` never regenerates it).
config_for() { # backend scale -> path
    local backend=$1 scale=$2 cfg="$WORK/$1-$2.toml" url
    if [ "$backend" = sqlite ]; then
        url="sqlite://$WORK/sqlite-$scale.sqlite"
    else
        url="postgres://postgres@127.0.0.1:$PGPORT/scale_${scale//./_}"
    fi
    sed '/^\[demo\]/,/^scale/d' fixtures/demo.toml | sed "s|^url = .*|url = \"$url\"|" > "$cfg"
    echo "$cfg"
}

PG_STARTED=
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PGBIN=$bin
    if [ ! -d "$WORK/pg/data" ]; then
        mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
        runuser -u postgres -- "$bin/initdb" -D "$WORK/pg/data" -U postgres -A trust --no-sync \
            -E UTF8 --locale=C.UTF-8 > "$WORK/pg/initdb.log"
    fi
    runuser -u postgres -- "$bin/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
        -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start > /dev/null
    PG_STARTED=1
}
stop_postgres() {
    if [ -n "$PG_STARTED" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop > /dev/null
    fi
}
trap stop_postgres EXIT

order_lines() { # backend scale
    if [ "$1" = sqlite ]; then
        sqlite3 "$WORK/sqlite-$2.sqlite" "SELECT COUNT(*) FROM order_lines"
    else
        psql -h 127.0.0.1 -p "$PGPORT" -U postgres -At -d "scale_${2//./_}" \
            -c "SELECT COUNT(*) FROM order_lines"
    fi
}

STORES=()
for backend in $BACKENDS; do
    [ "$backend" = postgres ] && start_postgres
    for scale in $SCALES; do
        cfg=$(config_for "$backend" "$scale")
        key="$backend-$scale"
        if [ ! -s "$WORK/$key.gen" ]; then
            if [ "$backend" = postgres ]; then
                psql -h 127.0.0.1 -p "$PGPORT" -U postgres -q \
                    -c "DROP DATABASE IF EXISTS scale_${scale//./_}" \
                    -c "CREATE DATABASE scale_${scale//./_}"
            else
                rm -f "$WORK/sqlite-$scale.sqlite"*
            fi
            echo "generating $key ..." >&2
            /usr/bin/time -f "%e %M" -o "$WORK/$key.gen.tmp" \
                "$BIN" --config "$cfg" demo --end "$END" --scale "$scale" --force > /dev/null
            mv "$WORK/$key.gen.tmp" "$WORK/$key.gen"
        fi
        STORES+=("$key")
    done
done

# One run of a command on a store: "wall_ms rss_kb".
run_once() { # cfg command...
    local cfg=$1; shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$WORK/rss.tmp" "$BIN" --config "$cfg" "$@" > /dev/null
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $(cat "$WORK/rss.tmp")"
}

cd "$WORK"
rm -f ./*.times
# Warm-up: one run of each (the first run after generation reads cold pages).
for key in "${STORES[@]}"; do
    cfg="$WORK/$key.toml"
    run_once "$cfg" preview --date "$END" --out "$WORK/out-$key" > /dev/null
    run_once "$cfg" metrics --date "$END" > /dev/null
done
for run in $(seq "$RUNS"); do
    for key in "${STORES[@]}"; do
        cfg="$WORK/$key.toml"
        echo "$(run_once "$cfg" preview --date "$END" --out "$WORK/out-$key")" >> "$key.preview.times"
        echo "$(run_once "$cfg" metrics --date "$END")" >> "$key.metrics.times"
    done
done

# The table, with each size's median against its backend's smallest store.
stats() { # file -> "median min max rss_max"
    sort -n "$1" | awk '{ t[NR] = $1; if ($2 > rss) rss = $2 }
        END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
              printf "%s %s %s %s\n", m, t[1], t[NR], rss }'
}
printf "| backend | order lines | generate | preview ms (median, range) | x smallest | metrics ms (median, range) | x smallest | peak RSS |\n"
printf "|---|---|---|---|---|---|---|---|\n"
for backend in $BACKENDS; do
    base_p= base_m=
    for scale in $SCALES; do
        key="$backend-$scale"
        read -r pm pmin pmax prss <<< "$(stats "$key.preview.times")"
        read -r mm mmin mmax mrss <<< "$(stats "$key.metrics.times")"
        read -r gen_s gen_kb < "$key.gen"
        : "${base_p:=$pm}" "${base_m:=$mm}"
        rss=$(( (prss > mrss ? prss : mrss) / 1024 ))
        printf "| %s | %s | %s s, %s MB | %s (%s-%s) | %.2f | %s (%s-%s) | %.2f | %s MB |\n" \
            "$backend" "$(order_lines "$backend" "$scale")" "$gen_s" "$(( gen_kb / 1024 ))" \
            "$pm" "$pmin" "$pmax" "$(echo "$pm / $base_p" | bc -l)" \
            "$mm" "$mmin" "$mmax" "$(echo "$mm / $base_m" | bc -l)" "$rss"
    done
done
