-- Daily rollups of orders and their lines (PostgreSQL twin of migrations/sqlite; keep them in
-- step). Triggers mark each day whose orders or lines change, whoever writes them;
-- `rollup::refresh` rebuilds the marked days from the raw rows, so a rollup is exact.
-- Statement-level triggers with transition tables: one insert per statement, not per row.

-- No key: a day may be marked many times. A unique mark would let a writer skip marking a day
-- that is already marked, and a refresh could then take that mark before the writer commits,
-- rebuild without the writer's rows, and leave nothing to say the day is stale.
CREATE TABLE rollup_dirty (
    day  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE order_daily (
    day         TEXT COLLATE "C" PRIMARY KEY,
    orders      BIGINT NOT NULL,
    new_orders  BIGINT NOT NULL,
    discount    DOUBLE PRECISION NOT NULL
);

CREATE TABLE sales_daily (
    day      TEXT COLLATE "C" NOT NULL,
    sku      TEXT COLLATE "C" NOT NULL,
    units    BIGINT NOT NULL,
    revenue  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, sku)
);
CREATE INDEX sales_daily_sku ON sales_daily (sku, day, units);

-- Only the branch for the firing operation runs, so each references only the transition
-- tables its trigger declares.
CREATE FUNCTION rollup_mark_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION rollup_mark_order_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_dirty (day)
            SELECT DISTINCT o.day FROM new_rows n JOIN orders o ON o.order_id = n.order_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_dirty (day)
            SELECT DISTINCT o.day FROM old_rows n JOIN orders o ON o.order_id = n.order_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_rollup_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_orders();
CREATE TRIGGER orders_rollup_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_orders();
CREATE TRIGGER orders_rollup_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_orders();

CREATE TRIGGER order_lines_rollup_insert AFTER INSERT ON order_lines
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_order_lines();
CREATE TRIGGER order_lines_rollup_update AFTER UPDATE ON order_lines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_order_lines();
CREATE TRIGGER order_lines_rollup_delete AFTER DELETE ON order_lines
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_order_lines();

-- TRUNCATE fires no delete trigger, and a reload (TRUNCATE, then COPY) marks only the days it
-- loads: every day the rollups hold is marked, so the days that are gone are emptied too.
CREATE FUNCTION rollup_mark_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_dirty (day) SELECT day FROM order_daily UNION SELECT day FROM sales_daily;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_rollup_truncate AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();
CREATE TRIGGER order_lines_rollup_truncate AFTER TRUNCATE ON order_lines
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();

INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM orders;
