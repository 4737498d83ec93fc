#!/usr/bin/env python3
"""Writes a Shopify orders export of 50,000 orders (about 100,000 line items) with the
real header of fixtures/presets/shopify_orders.csv, for timing `dawnpost import`:

    python3 benches/shopify_orders.py > /tmp/shopify_50k.csv
    dawnpost --config fixtures/small/config.toml import /tmp/shopify_50k.csv   # first
    dawnpost --config fixtures/small/config.toml import /tmp/shopify_50k.csv   # again
"""
import csv
import random
import sys
from pathlib import Path

random.seed(3)
here = Path(__file__).resolve().parent.parent
header = next(csv.reader(open(here / "fixtures/presets/shopify_orders.csv")))
col = {h: i for i, h in enumerate(header)}
w = csv.writer(sys.stdout)
w.writerow(header)
for n in range(50_000):
    day = n * 168 // 50_000  # 168 days from 1 Jan 2024
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
