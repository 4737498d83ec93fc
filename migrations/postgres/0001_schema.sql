-- The shop's data (PostgreSQL twin of migrations/sqlite; keep them in step). Days are ISO 'YYYY-MM-DD' text (local to the store time zone) and
-- timestamps are UTC epoch seconds, so metric SQL is the same text on SQLite and PostgreSQL.

CREATE TABLE products (
    sku             TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    category        TEXT COLLATE "C" NOT NULL,
    unit_price      DOUBLE PRECISION NOT NULL CHECK (unit_price >= 0),
    unit_cost       DOUBLE PRECISION NOT NULL CHECK (unit_cost >= 0),
    lead_time_days  BIGINT NOT NULL CHECK (lead_time_days >= 0)
);

CREATE TABLE orders (
    order_id       TEXT COLLATE "C" PRIMARY KEY,
    placed_at      BIGINT NOT NULL,
    day            TEXT COLLATE "C" NOT NULL,
    channel        TEXT COLLATE "C" NOT NULL,
    customer_id    TEXT COLLATE "C" NOT NULL,
    customer_type  TEXT COLLATE "C" NOT NULL CHECK (customer_type IN ('new', 'returning')),
    discount       DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (discount >= 0),
    status         TEXT COLLATE "C" NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned'))
);
-- Covers the metrics' scans of a range of days, so they never touch the table itself.
CREATE INDEX orders_day ON orders (day, status, order_id, customer_type, discount, channel, placed_at);

CREATE TABLE order_lines (
    order_id    TEXT COLLATE "C" NOT NULL REFERENCES orders (order_id),
    sku         TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    unit_price  DOUBLE PRECISION NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX order_lines_sku ON order_lines (sku, order_id);

CREATE TABLE traffic (
    day            TEXT COLLATE "C" NOT NULL,
    channel        TEXT COLLATE "C" NOT NULL,
    sessions       BIGINT NOT NULL CHECK (sessions >= 0),
    product_views  BIGINT NOT NULL CHECK (product_views >= 0),
    add_to_carts   BIGINT NOT NULL CHECK (add_to_carts >= 0),
    checkouts      BIGINT NOT NULL CHECK (checkouts >= 0),
    PRIMARY KEY (day, channel)
);

CREATE TABLE ad_spend (
    day          TEXT COLLATE "C" NOT NULL,
    channel      TEXT COLLATE "C" NOT NULL,
    campaign     TEXT COLLATE "C" NOT NULL,
    spend        DOUBLE PRECISION NOT NULL CHECK (spend >= 0),
    impressions  BIGINT NOT NULL CHECK (impressions >= 0),
    clicks       BIGINT NOT NULL CHECK (clicks >= 0),
    PRIMARY KEY (day, channel, campaign)
);

CREATE TABLE inventory (
    day       TEXT COLLATE "C" NOT NULL,
    sku       TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    on_hand   BIGINT NOT NULL,
    on_order  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, sku)
);
CREATE INDEX inventory_sku ON inventory (sku, day);

CREATE TABLE campaigns (
    campaign   TEXT COLLATE "C" PRIMARY KEY,
    channel    TEXT COLLATE "C" NOT NULL,
    start_day  TEXT COLLATE "C" NOT NULL,
    end_day    TEXT COLLATE "C" NOT NULL,
    CHECK (end_day >= start_day)
);

CREATE TABLE campaign_skus (
    campaign  TEXT COLLATE "C" NOT NULL REFERENCES campaigns (campaign) ON DELETE CASCADE,
    sku       TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    PRIMARY KEY (campaign, sku)
);

CREATE TABLE fulfilment (
    order_id      TEXT COLLATE "C" PRIMARY KEY REFERENCES orders (order_id),
    carrier       TEXT COLLATE "C" NOT NULL,
    shipped_at    BIGINT,
    ship_day      TEXT COLLATE "C",
    delivered_at  BIGINT,
    delivery_day  TEXT COLLATE "C",
    promised_day  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX fulfilment_ship_day ON fulfilment (ship_day);
CREATE INDEX fulfilment_delivery_day ON fulfilment (delivery_day);

CREATE TABLE returns (
    order_id  TEXT COLLATE "C" NOT NULL REFERENCES orders (order_id),
    sku       TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    day       TEXT COLLATE "C" NOT NULL,
    quantity  BIGINT NOT NULL CHECK (quantity > 0),
    reason    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX returns_day ON returns (day);

CREATE TABLE capacity (
    day     TEXT COLLATE "C" PRIMARY KEY,
    orders  BIGINT NOT NULL CHECK (orders >= 0)
);

CREATE TABLE feedback (
    feedback_id  TEXT COLLATE "C" PRIMARY KEY,
    day          TEXT COLLATE "C" NOT NULL,
    channel      TEXT COLLATE "C" NOT NULL,
    theme        TEXT COLLATE "C" NOT NULL,
    sentiment    TEXT COLLATE "C" NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    text         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX feedback_day ON feedback (day);

CREATE TABLE daily_values (
    metric  TEXT COLLATE "C" NOT NULL,
    day     TEXT COLLATE "C" NOT NULL,
    value   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, day)
);

-- Facts about the store itself, such as the last day of a generated demo shop.
CREATE TABLE meta (
    key    TEXT COLLATE "C" PRIMARY KEY,
    value  TEXT COLLATE "C" NOT NULL
);
