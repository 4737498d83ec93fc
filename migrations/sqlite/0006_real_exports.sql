-- no-transaction
-- A schema that holds what shop platforms export (issue 11):
--   order lines are keyed by their position in the order, so one SKU may appear twice, and
--   their quantity may be negative (a cancelled or refunded line) or zero;
--   an order may have no customer (a guest) and no customer type, which is then derived from
--   the customer's history into `derived_type`; orders may carry a country and a region;
--   product category, cost and lead time, a traffic row's funnel counts, and a shipment's
--   carrier and promised day are optional;
--   refunds carry money.
-- SQLite cannot drop a NOT NULL or change a key in place, so five tables are rebuilt with
-- the same rows. Rebuilding a table that others reference needs foreign keys off, which
-- cannot change inside a transaction: hence no migrator transaction, and one of our own.
PRAGMA foreign_keys = OFF;
BEGIN;

-- The rollup triggers name the tables being rebuilt; a rename checks every trigger, so they
-- go first and come back at the end.
DROP TRIGGER orders_rollup_insert;
DROP TRIGGER orders_rollup_update;
DROP TRIGGER orders_rollup_delete;
DROP TRIGGER order_lines_rollup_insert;
DROP TRIGGER order_lines_rollup_update;
DROP TRIGGER order_lines_rollup_delete;

CREATE TABLE products_new (
    sku             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    category        TEXT,
    unit_price      REAL NOT NULL CHECK (unit_price >= 0),
    unit_cost       REAL CHECK (unit_cost >= 0),
    lead_time_days  INTEGER CHECK (lead_time_days >= 0)
);
INSERT INTO products_new (sku, name, category, unit_price, unit_cost, lead_time_days)
    SELECT sku, name, category, unit_price, unit_cost, lead_time_days FROM products;
DROP TABLE products;
ALTER TABLE products_new RENAME TO products;

CREATE TABLE orders_new (
    order_id       TEXT PRIMARY KEY,
    placed_at      INTEGER NOT NULL,
    day            TEXT NOT NULL,
    channel        TEXT NOT NULL,
    customer_id    TEXT,
    customer_type  TEXT CHECK (customer_type IN ('new', 'returning')),
    discount       REAL NOT NULL DEFAULT 0 CHECK (discount >= 0),
    status         TEXT NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned')),
    country        TEXT,
    region         TEXT,
    -- Set by the importer from the customer's earlier orders where the file gives no type.
    derived_type   TEXT CHECK (derived_type IN ('new', 'returning'))
);
INSERT INTO orders_new (order_id, placed_at, day, channel, customer_id, customer_type, discount, status)
    SELECT order_id, placed_at, day, channel, customer_id, customer_type, discount, status FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_day ON orders (day, status, order_id, customer_type, derived_type, discount, channel, placed_at);
CREATE INDEX orders_customer ON orders (customer_id, placed_at, order_id);

CREATE TABLE order_lines_new (
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    line_no     INTEGER NOT NULL CHECK (line_no >= 1),
    sku         TEXT NOT NULL REFERENCES products (sku),
    quantity    INTEGER NOT NULL,
    unit_price  REAL NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
-- The old key was (order_id, sku): number each order's lines in SKU order.
INSERT INTO order_lines_new (order_id, line_no, sku, quantity, unit_price)
    SELECT order_id, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY sku), sku, quantity, unit_price
    FROM order_lines;
DROP TABLE order_lines;
ALTER TABLE order_lines_new RENAME TO order_lines;
CREATE INDEX order_lines_sku ON order_lines (sku, order_id);

CREATE TABLE traffic_new (
    day            TEXT NOT NULL,
    channel        TEXT NOT NULL,
    sessions       INTEGER NOT NULL CHECK (sessions >= 0),
    product_views  INTEGER CHECK (product_views >= 0),
    add_to_carts   INTEGER CHECK (add_to_carts >= 0),
    checkouts      INTEGER CHECK (checkouts >= 0),
    PRIMARY KEY (day, channel)
);
INSERT INTO traffic_new SELECT day, channel, sessions, product_views, add_to_carts, checkouts FROM traffic;
DROP TABLE traffic;
ALTER TABLE traffic_new RENAME TO traffic;

CREATE TABLE fulfilment_new (
    order_id      TEXT PRIMARY KEY REFERENCES orders (order_id),
    carrier       TEXT,
    shipped_at    INTEGER,
    ship_day      TEXT,
    delivered_at  INTEGER,
    delivery_day  TEXT,
    promised_day  TEXT
);
INSERT INTO fulfilment_new
    SELECT order_id, carrier, shipped_at, ship_day, delivered_at, delivery_day, promised_day FROM fulfilment;
DROP TABLE fulfilment;
ALTER TABLE fulfilment_new RENAME TO fulfilment;
CREATE INDEX fulfilment_ship_day ON fulfilment (ship_day);
CREATE INDEX fulfilment_delivery_day ON fulfilment (delivery_day);

-- Money given back, on the day it was given back (or, where an export tells no refund date,
-- the order's day: see README, "Your shop's data").
CREATE TABLE refunds (
    order_id   TEXT NOT NULL REFERENCES orders (order_id),
    refund_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    amount     REAL NOT NULL CHECK (amount >= 0),
    units      INTEGER CHECK (units >= 0),
    PRIMARY KEY (order_id, refund_id)
);
CREATE INDEX refunds_day ON refunds (day);

-- The rollup triggers, as migration 0004 made and explains them.
CREATE TRIGGER orders_rollup_insert AFTER INSERT ON orders BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER orders_rollup_update AFTER UPDATE ON orders BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER orders_rollup_delete AFTER DELETE ON orders BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
END;
CREATE TRIGGER order_lines_rollup_insert AFTER INSERT ON order_lines BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;
CREATE TRIGGER order_lines_rollup_update AFTER UPDATE ON order_lines BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;
CREATE TRIGGER order_lines_rollup_delete AFTER DELETE ON order_lines BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;

COMMIT;
PRAGMA foreign_keys = ON;
