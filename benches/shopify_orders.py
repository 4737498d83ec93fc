#!/usr/bin/env python3
"""Writes a Shopify orders export with the real header of fixtures/presets/shopify_orders.csv,
for timing `dawnpost import`: N orders (default 50,000) of 1 to 3 line items each (2 on
average, so about 2N lines), the order's own fields on its first row only, as Shopify
writes them. 500,000 orders make about a million lines (benches/shopify_throughput.sh).

    python3 benches/shopify_orders.py > /tmp/shopify_50k.csv
    python3 benches/shopify_orders.py 500000 > /tmp/shopify_1m.csv
    dawnpost --config fixtures/small/config.toml import /tmp/shopify_50k.csv   # first
    dawnpost --config fixtures/small/config.toml import /tmp/shopify_50k.csv   # again
"""
import csv
import random
import sys
from pathlib import Path

orders = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
random.seed(3)
here = Path(__file__).resolve().parent.parent
header = next(csv.reader(open(here / "fixtures/presets/shopify_orders.csv")))
col = {h: i for i, h in enumerate(header)}
w = csv.writer(sys.stdout)
w.writerow(header)
for n in range(orders):
    day = n * 168 // orders  # 168 days from 1 Jan 2024
    month, mday = 1 + day // 28, 1 + day % 28
    at = f"2024-{month:02d}-{mday:02d} {random.randint(8, 21):02d}:{random.randint(0, 59):02d}:00 -0500"
    for k in range(random.randint(1, 3)):
        r = [""] * len(header)
        sku = f"SKU-{random.randint(1, 300)}"
        r[col["Name"]] = f"#{10000 + n}"
        r[col["Lineitem quantity"]] = str(random.randint(1, 3))
        r[col["Lineitem sku"]] = sku
        r[col["Lineitem name"]] = "Product " + sku
        r[col["Lineitem price"]] = f"{random.randint(5, 80)}.00"
        if k == 0:
            r[col["Email"]] = f"c{random.randint(1, 20000)}@example.com"
            r[col["Created at"]] = at
            r[col["Financial Status"]] = "paid"
            r[col["Discount Amount"]] = "0.00"
            r[col["Source"]] = "web"
            r[col["Refunded Amount"]] = "5.00" if random.random() < 0.05 else "0.00"
        w.writerow(r)
