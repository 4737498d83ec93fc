#!/usr/bin/env bash
# Many shops in one `serve`: memory and start-up as the number of shops grows.
#   usage: benches/many_shops.sh [COUNTS...]          (default: 10 100 1000)
# Each shop is the tests' small shop with a store of its own (a migrated, empty SQLite file)
# and one report whose 6 AM-style fire was three hours ago with a grace of one hour, so on
# start-up every shop's report is looked at once: its store opened, its ledger read, the
# digest skipped as too late. The figures: seconds until every shop has been looked at,
# the peak RSS (VmHWM) over that, and the RSS 5 s later, when serve rests between fires.
# Then one command about one shop with every shop's --config given (`send --dry-run` of the
# middle shop's report), five times: the range of its wall time.
# DAWNPOST_BENCH_BEFORE=path runs an earlier build on the same setup, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${*:-10 100 1000}
cargo build --release --quiet
after=$PWD/target/release/dawnpost
before=${DAWNPOST_BENCH_BEFORE:-}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# Three hours ago in the shop's zone: past the one-hour grace, inside serve's look-back.
hour=$(( (10#$(TZ=America/New_York date +%H) + 21) % 24 ))

make_shops() { # dir n
    local dir=$1 n=$2 i
    mkdir -p "$dir"
    for ((i = 0; i < n; i++)); do
        sed -e "s|sqlite://small.sqlite|sqlite://$dir/shop$i.sqlite|" \
            -e "s|^name = \"morning\"|name = \"morning$i\"\nschedule = \"0 0 $hour * * *\"\ngrace_hours = 1\nwait_minutes = 0|" \
            fixtures/small/config.toml >"$dir/shop$i.toml"
    done
    # One store migrated by the build under test, copied: a thousand migrations would
    # measure SQLite, not serve.
    "$after" --config "$dir/shop0.toml" status >/dev/null
    for ((i = 1; i < n; i++)); do cp "$dir/shop0.sqlite" "$dir/shop$i.sqlite"; done
}

kib() { awk -v k="$1" '/^'"$1"':/ {print $2}' "/proc/$2/status" 2>/dev/null || echo 0; }

run_one() { # label bin dir n
    local label=$1 bin=$2 dir=$3 n=$4 args=() i started settled=0 peak rss count
    for ((i = 0; i < n; i++)); do args+=(--config "$dir/shop$i.toml"); done
    started=$(date +%s.%N)
    DAWNPOST_LOG=info "$bin" "${args[@]}" serve 2>"$dir/log" >/dev/null &
    pid=$!
    # Every shop looked at: one "skipped" line each.
    for ((i = 0; i < 3000; i++)); do
        count=$(grep -c 'skipped' "$dir/log" 2>/dev/null) || true
        if [ "${count:-0}" -ge "$n" ]; then settled=1; break; fi
        sleep 0.1
    done
    local secs
    secs=$(echo "$(date +%s.%N) - $started" | bc)
    sleep 5
    peak=$(kib VmHWM $pid)
    rss=$(kib VmRSS $pid)
    kill -TERM $pid
    wait $pid || true
    pid=
    [ "$settled" = 1 ] || echo "  ($label, $n shops: not every shop was looked at within 300 s)"
    # What each shop past the first count's adds, at rest: the cost of one more shop.
    local more="-"
    if [ -n "${first_n[$label]:-}" ]; then
        more=$(printf '%.0f KB' "$(echo "($rss - ${first_rss[$label]}) / ($n - ${first_n[$label]})" | bc -l)")
    else
        first_n[$label]=$n
        first_rss[$label]=$rss
    fi
    printf '| %-6s | %5d | %6.1f s | %7.1f MB | %7.1f MB | %s |\n' "$label" "$n" "$secs" \
        "$(echo "$peak / 1024" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$more"
}

one_shop() { # label bin dir n
    local label=$1 bin=$2 dir=$3 n=$4 args=() i t times=()
    for ((i = 0; i < n; i++)); do args+=(--config "$dir/shop$i.toml"); done
    for ((i = 0; i < 5; i++)); do
        /usr/bin/time -o "$dir/time" -f %e "$bin" "${args[@]}" send --dry-run --force \
            --date 2024-03-01 --report "morning$((n / 2))" >/dev/null 2>&1
        times+=("$(cat "$dir/time")")
    done
    printf '| %-6s | %5d | %s-%s s |\n' "$label" "$n" \
        "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)"
}

declare -A first_n first_rss
echo "| build  | shops | all looked at | peak RSS | RSS at rest | each shop more, at rest |"
echo "|---|---|---|---|---|---|"
for n in $counts; do
    make_shops "$work/$n" "$n"
    [ -n "$before" ] && run_one before "$before" "$work/$n" "$n"
    run_one after "$after" "$work/$n" "$n"
done
echo
echo "| build  | shops | one shop's send --dry-run, with every --config |"
echo "|---|---|---|"
for n in $counts; do
    [ -n "$before" ] && one_shop before "$before" "$work/$n" "$n"
    one_shop after "$after" "$work/$n" "$n"
done
