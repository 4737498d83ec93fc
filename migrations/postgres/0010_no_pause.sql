-- The rollup marks without the pause of a bulk load (twin of migrations/sqlite/0010_no_pause.sql).
--
-- The demo, the one bulk load that replaces a whole store, now drops the triggers inside its
-- transaction and makes them again at its end (`store::SetAside`), so nothing sets
-- `dawnpost.rollups_paused` any more.

CREATE OR REPLACE FUNCTION rollup_mark_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE OR REPLACE FUNCTION rollup_mark_fulfilment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE OR REPLACE FUNCTION rollup_mark_dated() RETURNS trigger LANGUAGE plpgsql AS $$
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
