-- Rollups for everything else that grows with the orders (PostgreSQL twin of
-- migrations/sqlite; keep them in step): orders and units per channel, shipments and
-- deliveries, returns, refunds and feedback, per day. Statement-level triggers mark every day
-- a statement touches, as in 0004; `rollup::refresh` rebuilds every rollup of a marked day.
-- A bulk load pauses the marks with a transaction-local setting, `dawnpost.rollups_paused`:
-- a statement trigger's join of its rows to `orders` grows with the table while it is loaded,
-- since nothing has analysed the rows just written.

CREATE TABLE channel_daily (
    day      TEXT COLLATE "C" NOT NULL,
    channel  TEXT COLLATE "C" NOT NULL,
    orders   BIGINT NOT NULL,
    units    BIGINT NOT NULL,
    PRIMARY KEY (day, channel)
);

CREATE TABLE fulfilment_daily (
    day           TEXT COLLATE "C" PRIMARY KEY,
    shipped       BIGINT NOT NULL,
    ship_seconds  BIGINT,
    shipped_24h   BIGINT NOT NULL,
    delivered     BIGINT NOT NULL,
    promised      BIGINT NOT NULL,
    on_time       BIGINT NOT NULL
);

CREATE TABLE returns_daily (
    day      TEXT COLLATE "C" NOT NULL,
    sku      TEXT COLLATE "C" NOT NULL,
    channel  TEXT COLLATE "C" NOT NULL,
    units    BIGINT NOT NULL,
    PRIMARY KEY (day, sku, channel)
);

CREATE TABLE refunds_daily (
    day      TEXT COLLATE "C" PRIMARY KEY,
    refunds  BIGINT NOT NULL,
    amount   DOUBLE PRECISION NOT NULL,
    units    BIGINT
);

CREATE TABLE feedback_daily (
    day        TEXT COLLATE "C" NOT NULL,
    theme      TEXT COLLATE "C" NOT NULL,
    sentiment  TEXT COLLATE "C" NOT NULL,
    comments   BIGINT NOT NULL,
    PRIMARY KEY (day, theme, sentiment)
);

-- An order's time and channel are read by the shipment and return rollups of other days.
CREATE OR REPLACE FUNCTION rollup_mark_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A bulk load that rebuilds every day at its end (rollup::pause) marks nothing.
    IF current_setting('dawnpost.rollups_paused', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM old_rows;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO rollup_dirty (day)
            SELECT DISTINCT f.ship_day FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            JOIN fulfilment f ON f.order_id = n.order_id
            WHERE f.ship_day IS NOT NULL AND n.placed_at IS DISTINCT FROM o.placed_at;
        INSERT INTO rollup_dirty (day)
            SELECT DISTINCT r.day FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            JOIN returns r ON r.order_id = n.order_id
            WHERE n.channel IS DISTINCT FROM o.channel;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_mark_order_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A bulk load that rebuilds every day at its end (rollup::pause) marks nothing.
    IF current_setting('dawnpost.rollups_paused', true) = 'on' THEN
        RETURN NULL;
    END IF;
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

CREATE FUNCTION rollup_mark_fulfilment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A bulk load that rebuilds every day at its end (rollup::pause) marks nothing.
    IF current_setting('dawnpost.rollups_paused', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_dirty (day)
            SELECT ship_day FROM new_rows WHERE ship_day IS NOT NULL
            UNION SELECT delivery_day FROM new_rows WHERE delivery_day IS NOT NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_dirty (day)
            SELECT ship_day FROM old_rows WHERE ship_day IS NOT NULL
            UNION SELECT delivery_day FROM old_rows WHERE delivery_day IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

-- Returns, refunds and feedback: dated rows, one function for the three.
CREATE FUNCTION rollup_mark_dated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A bulk load that rebuilds every day at its end (rollup::pause) marks nothing.
    IF current_setting('dawnpost.rollups_paused', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_dirty (day) SELECT DISTINCT day FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER fulfilment_rollup_insert AFTER INSERT ON fulfilment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_fulfilment();
CREATE TRIGGER fulfilment_rollup_update AFTER UPDATE ON fulfilment
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_fulfilment();
CREATE TRIGGER fulfilment_rollup_delete AFTER DELETE ON fulfilment
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_fulfilment();

CREATE TRIGGER returns_rollup_insert AFTER INSERT ON returns
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER returns_rollup_update AFTER UPDATE ON returns
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER returns_rollup_delete AFTER DELETE ON returns
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();

CREATE TRIGGER refunds_rollup_insert AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER refunds_rollup_update AFTER UPDATE ON refunds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER refunds_rollup_delete AFTER DELETE ON refunds
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();

CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER feedback_rollup_update AFTER UPDATE ON feedback
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();
CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dated();

-- TRUNCATE fires no delete trigger: every day any rollup holds is marked, so the days that are
-- gone are emptied too (see 0004).
CREATE OR REPLACE FUNCTION rollup_mark_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_dirty (day)
        SELECT day FROM order_daily UNION SELECT day FROM sales_daily
        UNION SELECT day FROM channel_daily UNION SELECT day FROM fulfilment_daily
        UNION SELECT day FROM returns_daily UNION SELECT day FROM refunds_daily
        UNION SELECT day FROM feedback_daily;
    RETURN NULL;
END
$$;
CREATE TRIGGER fulfilment_rollup_truncate AFTER TRUNCATE ON fulfilment
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();
CREATE TRIGGER returns_rollup_truncate AFTER TRUNCATE ON returns
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();
CREATE TRIGGER refunds_rollup_truncate AFTER TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();
CREATE TRIGGER feedback_rollup_truncate AFTER TRUNCATE ON feedback
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_all();

-- A store that already holds these rows gets their rollups on the next refresh.
INSERT INTO rollup_dirty (day)
    SELECT ship_day FROM fulfilment WHERE ship_day IS NOT NULL
    UNION SELECT delivery_day FROM fulfilment WHERE delivery_day IS NOT NULL
    UNION SELECT day FROM returns
    UNION SELECT day FROM refunds
    UNION SELECT day FROM feedback
    UNION SELECT day FROM orders;
