-- Daily rollups of orders and their lines, which most metrics read instead of scanning every
-- order line of a period. Triggers mark each day whose orders or lines change, whoever writes
-- them; `rollup::refresh` rebuilds the marked days from the raw rows (at the end of an
-- import, and before metrics are read), so a rollup is exact, never an incremental drift.
-- Cancelled orders are left out, as in every metric.

CREATE TABLE rollup_dirty (
    day  TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE order_daily (
    day         TEXT PRIMARY KEY,
    orders      INTEGER NOT NULL,
    new_orders  INTEGER NOT NULL,
    discount    REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE sales_daily (
    day      TEXT NOT NULL,
    sku      TEXT NOT NULL,
    units    INTEGER NOT NULL,
    revenue  REAL NOT NULL,
    PRIMARY KEY (day, sku)
) WITHOUT ROWID;
-- For per-SKU running totals (sell-through since a campaign began).
CREATE INDEX sales_daily_sku ON sales_daily (sku, day, units);

-- One mark per day is enough here: SQLite has one writer at a time, so no refresh can take a
-- mark while another transaction is still writing that day (PostgreSQL's twin keeps every
-- mark). Marks skip days already marked rather than `INSERT OR IGNORE`: inside a trigger,
-- the outer statement's conflict policy (an import's upsert) would override the IGNORE.
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

-- A store that already holds orders gets its rollups on the next refresh.
INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM orders;
