-- The shop's data. Days are ISO 'YYYY-MM-DD' text (local to the store time zone) and
-- timestamps are UTC epoch seconds, so metric SQL is the same text on SQLite and PostgreSQL.

CREATE TABLE products (
    sku             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    category        TEXT NOT NULL,
    unit_price      REAL NOT NULL CHECK (unit_price >= 0),
    unit_cost       REAL NOT NULL CHECK (unit_cost >= 0),
    lead_time_days  INTEGER NOT NULL CHECK (lead_time_days >= 0)
);

CREATE TABLE orders (
    order_id       TEXT PRIMARY KEY,
    placed_at      INTEGER NOT NULL,
    day            TEXT NOT NULL,
    channel        TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    customer_type  TEXT NOT NULL CHECK (customer_type IN ('new', 'returning')),
    discount       REAL NOT NULL DEFAULT 0 CHECK (discount >= 0),
    status         TEXT NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned'))
);
-- Covers the metrics' scans of a range of days, so they never touch the table itself.
CREATE INDEX orders_day ON orders (day, status, order_id, customer_type, discount, channel, placed_at);

CREATE TABLE order_lines (
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    sku         TEXT NOT NULL REFERENCES products (sku),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  REAL NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, sku)
) WITHOUT ROWID;
CREATE INDEX order_lines_sku ON order_lines (sku, order_id);

CREATE TABLE traffic (
    day            TEXT NOT NULL,
    channel        TEXT NOT NULL,
    sessions       INTEGER NOT NULL CHECK (sessions >= 0),
    product_views  INTEGER NOT NULL CHECK (product_views >= 0),
    add_to_carts   INTEGER NOT NULL CHECK (add_to_carts >= 0),
    checkouts      INTEGER NOT NULL CHECK (checkouts >= 0),
    PRIMARY KEY (day, channel)
);

CREATE TABLE ad_spend (
    day          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    campaign     TEXT NOT NULL,
    spend        REAL NOT NULL CHECK (spend >= 0),
    impressions  INTEGER NOT NULL CHECK (impressions >= 0),
    clicks       INTEGER NOT NULL CHECK (clicks >= 0),
    PRIMARY KEY (day, channel, campaign)
);

CREATE TABLE inventory (
    day       TEXT NOT NULL,
    sku       TEXT NOT NULL REFERENCES products (sku),
    on_hand   INTEGER NOT NULL,
    on_order  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, sku)
);
CREATE INDEX inventory_sku ON inventory (sku, day);

CREATE TABLE campaigns (
    campaign   TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    start_day  TEXT NOT NULL,
    end_day    TEXT NOT NULL,
    CHECK (end_day >= start_day)
);

CREATE TABLE campaign_skus (
    campaign  TEXT NOT NULL REFERENCES campaigns (campaign) ON DELETE CASCADE,
    sku       TEXT NOT NULL REFERENCES products (sku),
    PRIMARY KEY (campaign, sku)
);

CREATE TABLE fulfilment (
    order_id      TEXT PRIMARY KEY REFERENCES orders (order_id),
    carrier       TEXT NOT NULL,
    shipped_at    INTEGER,
    ship_day      TEXT,
    delivered_at  INTEGER,
    delivery_day  TEXT,
    promised_day  TEXT NOT NULL
);
CREATE INDEX fulfilment_ship_day ON fulfilment (ship_day);
CREATE INDEX fulfilment_delivery_day ON fulfilment (delivery_day);

CREATE TABLE returns (
    order_id  TEXT NOT NULL REFERENCES orders (order_id),
    sku       TEXT NOT NULL REFERENCES products (sku),
    day       TEXT NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    reason    TEXT NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX returns_day ON returns (day);

CREATE TABLE capacity (
    day     TEXT PRIMARY KEY,
    orders  INTEGER NOT NULL CHECK (orders >= 0)
);

CREATE TABLE feedback (
    feedback_id  TEXT PRIMARY KEY,
    day          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    theme        TEXT NOT NULL,
    sentiment    TEXT NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    text         TEXT NOT NULL
);
CREATE INDEX feedback_day ON feedback (day);

CREATE TABLE daily_values (
    metric  TEXT NOT NULL,
    day     TEXT NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (metric, day)
);

-- Facts about the store itself, such as the last day of a generated demo shop.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
