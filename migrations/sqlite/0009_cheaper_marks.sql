-- Cheaper writes of order lines: marks by upsert, and no SKU index.
--
-- The triggers of 0008, marking a day with an upsert instead of `WHERE NOT EXISTS`.
--
-- An `INSERT INTO rollup_dirty SELECT ...` whose SELECT reads rollup_dirty itself makes SQLite
-- copy the SELECT's rows to a temporary B-tree first (it cannot read a table while inserting
-- into it), and opening and closing that B-tree for every row was a fifth of an order-line
-- import's time (`perf record`: pcache1Create, sqlite3BtreeOpen, their mutexes). The upsert
-- reads nothing but the key it writes. (`WHERE true` is SQLite's way of telling an upsert's
-- ON CONFLICT from a join's ON.)
--
-- No query reads order lines by SKU: every SKU figure comes from sales_daily. The index only
-- served SQLite's foreign-key check when a product is deleted or renamed, which dawnpost never
-- does (a product is only ever upserted by its SKU); such a delete now reads order_lines once
-- per product. Keeping it up to date was 0.4 s of every million lines imported.
-- PostgreSQL keeps its index: a demo rebuild deletes the lines and then the products in one
-- transaction, and without the index each product's check would read every dead line.
DROP INDEX order_lines_sku;

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
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_update AFTER UPDATE ON orders
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_delete AFTER DELETE ON orders
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER orders_rollup_moves AFTER UPDATE OF placed_at, channel ON orders
WHEN (OLD.placed_at IS NOT NEW.placed_at OR OLD.channel IS NOT NEW.channel)
    AND NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT DISTINCT f.ship_day FROM fulfilment f
        WHERE f.order_id = NEW.order_id AND f.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT DISTINCT r.day FROM returns r
        WHERE r.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_insert AFTER INSERT ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_update AFTER UPDATE ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = NEW.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER order_lines_rollup_delete AFTER DELETE ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT o.day FROM orders o WHERE o.order_id = OLD.order_id
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER fulfilment_rollup_insert AFTER INSERT ON fulfilment
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.ship_day WHERE NEW.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.delivery_day WHERE NEW.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER fulfilment_rollup_update AFTER UPDATE ON fulfilment
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
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
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.ship_day WHERE OLD.ship_day IS NOT NULL
        ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT OLD.delivery_day WHERE OLD.delivery_day IS NOT NULL
        ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_insert AFTER INSERT ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_update AFTER UPDATE ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER returns_rollup_delete AFTER DELETE ON returns
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_insert AFTER INSERT ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_update AFTER UPDATE ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER refunds_rollup_delete AFTER DELETE ON refunds
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_update AFTER UPDATE ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO rollup_dirty (day) SELECT NEW.day WHERE true ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback
WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO rollup_dirty (day) SELECT OLD.day WHERE true ON CONFLICT DO NOTHING;
END;
