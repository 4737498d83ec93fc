-- Guest orders (no customer) are counted apart from new customers: an order without a
-- customer, and without a type from its file, is a guest's. Every day is rebuilt on the next
-- refresh, with the new count.
ALTER TABLE order_daily ADD COLUMN guests INTEGER NOT NULL DEFAULT 0;
INSERT INTO rollup_dirty (day) SELECT day FROM order_daily WHERE true
    ON CONFLICT (day) DO NOTHING;
