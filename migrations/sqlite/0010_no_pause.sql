-- The triggers of 0009 without the pause of a bulk load (twin of migrations/postgres/0010_no_pause.sql).
--
-- The demo, the one bulk load that replaces a whole store, now drops the triggers inside its
-- transaction and makes them again at its end (`store::SetAside`), so nothing sets
-- `rollup_paused` any more. Its test cost every row written a subquery, on every import.
DROP TRIGGER orders_rollup_insert;
DROP TRIGGER orders_rollup_update;
DROP TRIGGER orders_rollup_delete;
DROP TRIGGER orders_rollup_moves;
DROP TRIGGER order_lines_rollup_insert;
DROP TRIGGER order_lines_rollup_update;
DROP TRIGGER order_lines_rollup_delete;
DROP TRIGGER fulfilment_rollup_insert;
DROP TRIGGER fulfilment_rollup_update;
DROP TRIGGER fulfilment_rollup_delete;
DROP TRIGGER returns_rollup_insert;
DROP TRIGGER returns_rollup_update;
DROP TRIGGER returns_rollup_delete;
DROP TRIGGER refunds_rollup_insert;
DROP TRIGGER refunds_rollup_update;
DROP TRIGGER refunds_rollup_delete;
DROP TRIGGER feedback_rollup_insert;
DROP TRIGGER feedback_rollup_update;
DROP TRIGGER feedback_rollup_delete;

CREATE TRIGGER orders_rollup_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_update AFTER UPDATE ON orders
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_moves AFTER UPDATE OF placed_at, channel ON orders
WHEN (OLD.placed_at IS NOT NEW.placed_at OR OLD.channel IS NOT NEW.channel)
BEGIN
    INSERT INTO rollup_dirty (day) SELECT DISTINCT f.ship_day FROM fulfilment f
        WHERE f.order_id = NEW.order_id AND f.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT DISTINCT r.day FROM returns r
        WHERE r.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_insert AFTER INSERT ON order_lines
BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_update AFTER UPDATE ON order_lines
BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_delete AFTER DELETE ON order_lines
BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER fulfilment_rollup_insert AFTER INSERT ON fulfilment
BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.ship_day WHERE NEW.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.delivery_day WHERE NEW.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER fulfilment_rollup_update AFTER UPDATE ON fulfilment
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.ship_day WHERE OLD.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT OLD.delivery_day WHERE OLD.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.ship_day WHERE NEW.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.delivery_day WHERE NEW.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER fulfilment_rollup_delete AFTER DELETE ON fulfilment
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.ship_day WHERE OLD.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT OLD.delivery_day WHERE OLD.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_insert AFTER INSERT ON returns
BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_update AFTER UPDATE ON returns
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_delete AFTER DELETE ON returns
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_insert AFTER INSERT ON refunds
BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_update AFTER UPDATE ON refunds
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_delete AFTER DELETE ON refunds
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback
BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_update AFTER UPDATE ON feedback
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback
BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;

DROP TABLE rollup_paused;
