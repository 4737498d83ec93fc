#!/usr/bin/env python3
"""The forecast range on many demo shops: the rows of README's 12-seed table.

For each seed, a demo store of 430 days to END (generated once, kept in WORK), then
`backtest --windows 6 --format json` over it, read here:
- the 56-day windows whose range held outside 75-85% of days;
- the mean width, (high - low) / expected, over every forecast 1-7 days ahead;
- capacity warnings as the capacity alert reads them: a warning where the top of a day's
  range is above 90% of that day's capacity (from the store's `capacity` table), a busy day
  where the orders that came were; false warnings are those of days that were not busy.

Run by hand, not in CI (12 stores take about a minute to generate with a release build):
    python3 benches/range_seeds.py
    DAWNPOST_BENCH_BIN=/path/to/an/earlier/dawnpost python3 benches/range_seeds.py
    SEEDS="1 2 3" END=2026-12-01 python3 benches/range_seeds.py
Stores are generated again only when missing; `rm -rf $WORK` to start afresh. The stores'
config is fixtures/demo.toml without its [demo] section, so that a command does not
rebuild the store for yesterday.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = [int(s) for s in os.environ.get("SEEDS", "1 2 3 4 5 6 7 8 9 10 11 12").split()]
END = os.environ.get("END", "2026-12-06")
WORK = Path(os.environ.get("WORK", "/tmp/dawnpost-range-seeds"))
THRESHOLD = 0.9


def binary():
    given = os.environ.get("DAWNPOST_BENCH_BIN")
    if given:
        return given
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    return str(REPO / "target" / "release" / "dawnpost")


def config_for(store):
    """fixtures/demo.toml with its store in `store` and no [demo] table."""
    text = (REPO / "fixtures" / "demo.toml").read_text()
    text = re.sub(r"(?ms)^\[demo\]\n.*?(?=^\[)", "", text)
    return text.replace('url = "sqlite://demo.sqlite"', f'url = "sqlite://{store}"')


def store_for(bin_, seed):
    d = WORK / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    config = d / "config.toml"
    config.write_text(config_for(d / "demo.sqlite"))
    if not (d / "demo.sqlite").exists():
        run = [bin_, "--config", str(config), "demo", "--seed", str(seed), "--end", END]
        subprocess.run(run + ["--days", "430"], check=True, stdout=subprocess.DEVNULL)
    return config, d / "demo.sqlite"


def backtest(bin_, config):
    out = subprocess.run(
        [bin_, "--config", str(config), "backtest", "--date", END, "--windows", "6",
         "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def main():
    bin_ = binary()
    out, held, widths = [], [], []
    false_warnings = caught = busy = forecasts = 0
    for seed in SEEDS:
        config, store = store_for(bin_, seed)
        report = backtest(bin_, config)
        for w in report["windows"]:
            share = 100 * w["accuracy"]["in_range"]
            held.append(share)
            if not 75 <= share <= 85:
                out.append(f"seed {seed} {w['first']}..{w['last']} {share:.1f}%")
        capacity = dict(sqlite3.connect(store).execute("SELECT day, orders FROM capacity"))
        for r in report["rows"]:
            forecasts += 1
            if r["expected"] > 0:
                widths.append((r["high"] - r["low"]) / r["expected"])
            cap = capacity.get(r["day"])
            if not cap:
                continue
            warned = r["high"] > THRESHOLD * cap
            was_busy = r["actual"] > THRESHOLD * cap
            false_warnings += warned and not was_busy
            caught += warned and was_busy
            busy += was_busy
    print(f"{len(SEEDS)} seeds to {END}, {len(held)} windows, {forecasts} forecasts")
    print(f"windows outside 75-85%: {len(out)} (all windows {min(held):.1f}-{max(held):.1f}%)")
    for line in out:
        print(f"  {line}")
    print(f"range width, (high - low) / expected, mean: {sum(widths) / len(widths):.3f}")
    print(f"capacity warnings of days that were not busy: {false_warnings}")
    print(f"busy days warned of: {caught} of {busy}")


if __name__ == "__main__":
    sys.exit(main())
