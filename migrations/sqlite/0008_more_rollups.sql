-- Rollups for everything else that grows with the orders (issue 15), so that no built-in
-- metric reads a raw table over a range of days: orders and units per channel, shipments and
-- deliveries, returns, refunds and feedback, per day. They follow 0004's rules: triggers mark
-- each day a change touches in `rollup_dirty`, `rollup::refresh` rebuilds every rollup of a
-- marked day from the raw rows, nothing is adjusted in place.
--
-- A row's day is the day the metric counts it on: an order's day for channel_daily, the ship
-- day (shipments) and delivery day (deliveries) for fulfilment_daily, the return, refund or
-- comment day for the others.

-- Non-cancelled orders, and the units on their lines, by order day and channel.
CREATE TABLE channel_daily (
    day      TEXT NOT NULL,
    channel  TEXT NOT NULL,
    orders   INTEGER NOT NULL,
    units    INTEGER NOT NULL,
    PRIMARY KEY (day, channel)
) WITHOUT ROWID;

-- Shipments by ship day (every order, as the metrics always counted them), and deliveries by
-- delivery day. Seconds, not hours: an integer sum is exact.
CREATE TABLE fulfilment_daily (
    day           TEXT PRIMARY KEY,
    shipped       INTEGER NOT NULL,
    ship_seconds  INTEGER,
    shipped_24h   INTEGER NOT NULL,
    delivered     INTEGER NOT NULL,
    promised      INTEGER NOT NULL,
    on_time       INTEGER NOT NULL
) WITHOUT ROWID;

-- Units returned by return day, SKU and the order's channel.
CREATE TABLE returns_daily (
    day      TEXT NOT NULL,
    sku      TEXT NOT NULL,
    channel  TEXT NOT NULL,
    units    INTEGER NOT NULL,
    PRIMARY KEY (day, sku, channel)
) WITHOUT ROWID;

CREATE TABLE refunds_daily (
    day      TEXT PRIMARY KEY,
    refunds  INTEGER NOT NULL,
    amount   REAL NOT NULL,
    units    INTEGER
) WITHOUT ROWID;

CREATE TABLE feedback_daily (
    day        TEXT NOT NULL,
    theme      TEXT NOT NULL,
    sentiment  TEXT NOT NULL,
    comments   INTEGER NOT NULL,
    PRIMARY KEY (day, theme, sentiment)
) WITHOUT ROWID;

-- While this table holds a row, the triggers mark nothing: a bulk load that replaces a whole
-- store (the demo generator) rebuilds every day at its end instead. The row is written and
-- removed inside that load's transaction, so no other connection ever sees it.
CREATE TABLE rollup_paused (
    one  INTEGER PRIMARY KEY CHECK (one = 1)
);

-- 0004's triggers, rebuilt to keep quiet during a bulk load.
DROP TRIGGER orders_rollup_insert;
DROP TRIGGER orders_rollup_update;
DROP TRIGGER orders_rollup_delete;
DROP TRIGGER order_lines_rollup_insert;
DROP TRIGGER order_lines_rollup_update;
DROP TRIGGER order_lines_rollup_delete;

CREATE TRIGGER orders_rollup_insert AFTER INSERT ON orders
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER orders_rollup_update AFTER UPDATE ON orders
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER orders_rollup_delete AFTER DELETE ON orders
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
END;
-- An order's time and channel are read by the shipment and return rollups of other days.
CREATE TRIGGER orders_rollup_moves AFTER UPDATE OF placed_at, channel ON orders
WHEN (OLD.placed_at IS NOT NEW.placed_at OR OLD.channel IS NOT NEW.channel)
    AND NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT DISTINCT f.ship_day FROM fulfilment f
        WHERE f.order_id = NEW.order_id AND f.ship_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = f.ship_day);
    INSERT INTO rollup_dirty (day) SELECT DISTINCT r.day FROM returns r
        WHERE r.order_id = NEW.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = r.day);
END;

CREATE TRIGGER order_lines_rollup_insert AFTER INSERT ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;
CREATE TRIGGER order_lines_rollup_update AFTER UPDATE ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;
CREATE TRIGGER order_lines_rollup_delete AFTER DELETE ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.day = o.day);
END;

CREATE TRIGGER fulfilment_rollup_insert AFTER INSERT ON fulfilment
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.ship_day WHERE NEW.ship_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.ship_day);
    INSERT INTO rollup_dirty (day) SELECT NEW.delivery_day WHERE NEW.delivery_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.delivery_day);
END;
CREATE TRIGGER fulfilment_rollup_update AFTER UPDATE ON fulfilment
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.ship_day WHERE OLD.ship_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.ship_day);
    INSERT INTO rollup_dirty (day) SELECT OLD.delivery_day WHERE OLD.delivery_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.delivery_day);
    INSERT INTO rollup_dirty (day) SELECT NEW.ship_day WHERE NEW.ship_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.ship_day);
    INSERT INTO rollup_dirty (day) SELECT NEW.delivery_day WHERE NEW.delivery_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.delivery_day);
END;
CREATE TRIGGER fulfilment_rollup_delete AFTER DELETE ON fulfilment
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.ship_day WHERE OLD.ship_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.ship_day);
    INSERT INTO rollup_dirty (day) SELECT OLD.delivery_day WHERE OLD.delivery_day IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.delivery_day);
END;

-- Returns, refunds and feedback are dated rows: one pattern each.
CREATE TRIGGER returns_rollup_insert AFTER INSERT ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER returns_rollup_update AFTER UPDATE ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER returns_rollup_delete AFTER DELETE ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
END;

CREATE TRIGGER refunds_rollup_insert AFTER INSERT ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER refunds_rollup_update AFTER UPDATE ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER refunds_rollup_delete AFTER DELETE ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
END;

CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER feedback_rollup_update AFTER UPDATE ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = NEW.day);
END;
CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = OLD.day);
END;

-- A store that already holds these rows gets their rollups on the next refresh.
INSERT INTO rollup_dirty (day)
    SELECT ship_day FROM fulfilment WHERE ship_day IS NOT NULL
    UNION SELECT delivery_day FROM fulfilment WHERE delivery_day IS NOT NULL
    UNION SELECT day FROM returns
    UNION SELECT day FROM refunds
    UNION SELECT day FROM feedback
    UNION SELECT day FROM orders
    EXCEPT SELECT day FROM rollup_dirty;
