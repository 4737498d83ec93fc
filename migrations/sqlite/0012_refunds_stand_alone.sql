-- A refund no longer needs its order in the store (issue 24; twin of
-- migrations/postgres/0011_refunds_stand_alone.sql).
--
-- WooCommerce's Analytics > Orders report lists a refund as a row of its own, under its
-- parent order's number and on the refund's date: an export of last week holds refunds of
-- orders placed months before, which the store may never have seen. The money given back is
-- real all the same, and `refunds_daily` reads the refunds alone, so the reference to
-- `orders` goes. SQLite cannot drop a foreign key in place: the table is rebuilt with its
-- rows. Nothing references `refunds`, so this runs with foreign keys on, in the migrator's
-- transaction; its triggers go with the old table and are made again as 0010 has them.
CREATE TABLE refunds_new (
    order_id   TEXT NOT NULL,
    refund_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    amount     REAL NOT NULL CHECK (amount >= 0),
    units      INTEGER CHECK (units >= 0),
    PRIMARY KEY (order_id, refund_id)
);
INSERT INTO refunds_new SELECT order_id, refund_id, day, amount, units FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_day ON refunds (day);

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
