#!/usr/bin/env python3
"""Replay servers for benches/ads_sync.sh: GA4's runReport, Google Ads' searchStream and
Meta's Insights, in the shapes of fixtures/ga4-api, fixtures/google-ads-api and
fixtures/meta-ads-api, over HTTPS on 127.0.0.1, for DAYS days before 2026-03-06:

    python3 benches/ads_replay.py PORT CERT KEY DAYS GROUPS CAMPAIGNS

GA4 answers DAYS × GROUPS rows (date, channel group), paged by limit/offset; Google Ads and
Meta answer DAYS × CAMPAIGNS campaign-days (Google Ads in batches of 10,000, Meta 100 a
page by cursor). Sign-ins always succeed. Prints READY when listening.
"""
import json
import socket
import ssl
import sys
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
days, groups, campaigns = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
end = date(2026, 3, 6)


def day_range(frm, to):
    d = max(frm, end - timedelta(days=days - 1))
    while d <= min(to, end):
        yield d
        d += timedelta(days=1)


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the platforms answer: a connection is not a TLS handshake per page.
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # The headers and the body go out as two writes: without this, each answer waits
        # on the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def reply(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_POST(self):
        raw = self.body()
        if self.path.endswith("/token"):
            return self.reply({"access_token": "ya29.bench", "expires_in": 3599, "token_type": "Bearer"})
        q = json.loads(raw)
        if ":runReport" in self.path:
            r = q["dateRanges"][0]
            rows = ga4_rows(r["startDate"], r["endDate"])
            off, lim = q["offset"], q["limit"]
            return self.reply({"metricHeaders": [{"name": m} for m in ["sessions", "itemViewEvents", "addToCarts", "checkouts"]],
                               "rows": rows[off:off + lim], "rowCount": len(rows),
                               "metadata": {"timeZone": "America/New_York", "currencyCode": "USD"},
                               "propertyQuota": {"tokensPerHour": {"consumed": 10, "remaining": 39990}}})
        if "searchStream" in self.path:
            query = q["query"]
            if "FROM customer" in query:
                return self.reply([{"results": [{"customer": {"id": "1234567890", "currencyCode": "USD", "timeZone": "America/New_York"}}]}])
            b = query.split("BETWEEN '")[1]
            frm, to = date.fromisoformat(b[:10]), date.fromisoformat(b.split("AND '")[1][:10])
            rows = []
            for d in day_range(frm, to):
                for c in range(campaigns):
                    n = d.toordinal() % 89 + c
                    rows.append({"campaign": {"id": str(21000000000 + c), "name": f"Campaign {c}"},
                                 "metrics": {"costMicros": str(1000000 * (10 + n)), "clicks": str(30 + n), "impressions": str(900 + n)},
                                 "segments": {"date": d.isoformat()}})
            return self.reply([{"results": rows[i:i + 10000]} for i in range(0, len(rows), 10000)])
        self.reply({}, 404)

    def do_GET(self):
        u = urlparse(self.path)
        p = parse_qs(u.query)
        if not u.path.endswith("/insights"):
            return self.reply({"currency": "USD", "timezone_name": "America/New_York", "id": "act_1"})
        r = json.loads(p["time_range"][0])
        limit = int(p["limit"][0])
        start = int(p.get("after", ["0"])[0])
        rows = meta_rows(r["since"], r["until"])
        page = rows[start:start + limit]
        body = {"data": page, "paging": {"cursors": {"after": str(start + len(page))}}}
        if start + len(page) < len(rows):
            body["paging"]["next"] = "not followed"
        self.reply(body)


# The server's own work is not what is measured: a range's rows are made once.
_meta = {}
_ga4 = {}


def ga4_rows(start, end_day):
    if (start, end_day) not in _ga4:
        rows = []
        for d in day_range(date.fromisoformat(start), date.fromisoformat(end_day)):
            for g in range(groups):
                n = d.toordinal() % 97 + g
                rows.append({"dimensionValues": [{"value": d.strftime("%Y%m%d")}, {"value": f"Group {g}"}],
                             "metricValues": [{"value": str(100 + n)}, {"value": str(150 + n)}, {"value": str(20 + n)}, {"value": str(8 + n % 5)}]})
        _ga4[(start, end_day)] = rows
    return _ga4[(start, end_day)]


def meta_rows(since, until):
    if (since, until) not in _meta:
        rows = []
        for d in day_range(date.fromisoformat(since), date.fromisoformat(until)):
            for c in range(campaigns):
                n = d.toordinal() % 83 + c
                rows.append({"campaign_id": str(120210000000000000 + c), "campaign_name": f"Campaign {c}",
                             "spend": f"{10 + n}.{n % 100:02d}", "impressions": str(5000 + n), "inline_link_clicks": str(40 + n),
                             "account_currency": "USD", "date_start": d.isoformat(), "date_stop": d.isoformat()})
        _meta[(since, until)] = rows
    return _meta[(since, until)]


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("READY", flush=True)
server.serve_forever()
