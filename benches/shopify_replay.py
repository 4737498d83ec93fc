#!/usr/bin/env python3
"""A Shopify Admin API replay server for benches/sync.sh, and the same orders as a Shopify
orders export. It answers what dawnpost's Shopify source asks (the client-credentials
sign-in, the shop's settings, products, a bulk operation and its JSONL, pages of orders) in
the shapes of fixtures/shopify-api, for N generated orders of 1 to 4 lines (about 2.5N).

    python3 benches/shopify_replay.py WORK N PORT CERT KEY

writes WORK/shopify.csv (the export) and WORK/bulk.jsonl (the bulk result), then serves
HTTPS on 127.0.0.1:PORT until killed. The first sync's bulk operation returns the N orders,
all updated on 30 Jun 2024; a paged orders query answers with NEW orders of 1 Jul 2024 (the
"one day" of an incremental sync; NEW is 300 unless WORK/new holds another number).
"""
import csv
import json
import random
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

work, n, port, cert, key = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
here = Path(__file__).resolve().parent.parent
random.seed(5)


def money(v):
    return {"shopMoney": {"amount": f"{v:.2f}", "currencyCode": "USD"}}


def order(i, day, hour):
    at = f"{day}T{hour:02d}:{i % 60:02d}:00Z"
    lines = []
    for k in range(random.randint(1, 4)):
        sku = f"SKU-{random.randint(1, 300)}"
        lines.append((sku, random.randint(1, 3), float(random.randint(5, 80))))
    o = {
        "id": f"gid://shopify/Order/{i}", "name": f"#{10000 + i}", "createdAt": at, "updatedAt": at,
        "cancelledAt": None, "sourceName": "web", "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED", "customer": {"id": f"gid://shopify/Customer/{random.randint(1, 20000)}"},
        "totalDiscountsSet": money(0), "shippingAddress": None, "refunds": [], "fulfillments": [],
    }
    return o, lines


def line_node(i, k, sku, qty, price):
    return {"id": f"gid://shopify/LineItem/{i * 10 + k}", "sku": sku, "name": "Product " + sku,
            "title": "Product " + sku, "quantity": qty, "originalUnitPriceSet": money(price)}


header = next(csv.reader(open(here / "fixtures/presets/shopify_orders.csv")))
col = {h: i for i, h in enumerate(header)}
with open(work / "shopify.csv", "w", newline="") as fcsv, open(work / "bulk.jsonl", "w") as fj:
    w = csv.writer(fcsv)
    w.writerow(header)
    for i in range(n):
        day = f"2024-{1 + (i * 180 // n) // 30:02d}-{1 + (i * 180 // n) % 28:02d}"
        o, lines = order(i, day, 8 + i % 12)
        o["updatedAt"] = "2024-06-30T12:00:00Z"
        fj.write(json.dumps(o) + "\n")
        for k, (sku, qty, price) in enumerate(lines):
            node = line_node(i, k, sku, qty, price)
            node["__parentId"] = o["id"]
            fj.write(json.dumps(node) + "\n")
            r = [""] * len(header)
            r[col["Name"]] = o["name"]
            r[col["Lineitem quantity"]] = str(qty)
            r[col["Lineitem sku"]] = sku
            r[col["Lineitem name"]] = "Product " + sku
            r[col["Lineitem price"]] = f"{price:.2f}"
            if k == 0:
                r[col["Email"]] = o["customer"]["id"]
                r[col["Created at"]] = o["createdAt"].replace("T", " ").replace("Z", " +0000")
                r[col["Financial Status"]] = "paid"
                r[col["Discount Amount"]] = "0.00"
                r[col["Source"]] = "web"
                r[col["Refunded Amount"]] = "0.00"
            w.writerow(r)

new_count = int((work / "new").read_text()) if (work / "new").exists() else 300
new_orders = []
for j in range(new_count):
    o, lines = order(n + j, "2024-07-01", 8 + j % 12)
    o["lineItems"] = {"pageInfo": {"hasNextPage": False}, "nodes": [line_node(n + j, k, *l) for k, l in enumerate(lines)]}
    o["returns"] = {"nodes": []}
    new_orders.append(o)

cost = {"requestedQueryCost": 10, "actualQueryCost": 10,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0}}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        size = (work / "bulk.jsonl").stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(work / "bulk.jsonl", "rb") as f:
            while chunk := f.read(1 << 20):
                self.wfile.write(chunk)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/admin/oauth/access_token":
            return self.reply({"access_token": "shpat_bench", "scope": "read_orders,read_all_orders", "expires_in": 86399})
        q = json.loads(body)
        text, v = q["query"], q.get("variables") or {}
        if text.startswith("query Shop"):
            return self.reply({"data": {"shop": {"ianaTimezone": "America/New_York", "currencyCode": "USD"}}, "extensions": {"cost": cost}})
        if text.startswith("query Variants"):
            return self.reply({"data": {"productVariants": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}}, "extensions": {"cost": cost}})
        if text.startswith("mutation Run"):
            return self.reply({"data": {"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "CREATED"}, "userErrors": []}}, "extensions": {"cost": cost}})
        if text.startswith("query Poll"):
            node = {"id": "gid://shopify/BulkOperation/1", "status": "COMPLETED", "errorCode": None,
                    "url": f"https://127.0.0.1:{port}/bulk.jsonl"}
            return self.reply({"data": {"node": node}, "extensions": {"cost": cost}})
        if text.startswith("query Orders"):
            start = int(v.get("after") or 0)
            page = new_orders[start:start + v["first"]]
            more = start + v["first"] < len(new_orders)
            info = {"hasNextPage": more, "endCursor": str(start + v["first"]) if more else None}
            return self.reply({"data": {"orders": {"pageInfo": info, "nodes": page}}, "extensions": {"cost": cost}})
        self.send_response(400)
        self.end_headers()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("READY", flush=True)
server.serve_forever()
