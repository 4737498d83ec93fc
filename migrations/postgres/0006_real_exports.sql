-- A schema that holds what shop platforms export (PostgreSQL twin of migrations/sqlite;
-- keep them in step; the SQLite file says what changes and why).
ALTER TABLE products
    ALTER COLUMN category DROP NOT NULL,
    ALTER COLUMN unit_cost DROP NOT NULL,
    ALTER COLUMN lead_time_days DROP NOT NULL;

ALTER TABLE orders
    ALTER COLUMN customer_id DROP NOT NULL,
    ALTER COLUMN customer_type DROP NOT NULL,
    ADD COLUMN country TEXT COLLATE "C",
    ADD COLUMN region TEXT COLLATE "C",
    ADD COLUMN derived_type TEXT COLLATE "C" CHECK (derived_type IN ('new', 'returning'));
DROP INDEX orders_day;
CREATE INDEX orders_day ON orders (day, status, order_id, customer_type, derived_type, discount, channel, placed_at);
CREATE INDEX orders_customer ON orders (customer_id, placed_at, order_id);

-- Numbering the lines changes no figure: the rollup triggers stay quiet for it.
ALTER TABLE order_lines ADD COLUMN line_no BIGINT;
ALTER TABLE order_lines DISABLE TRIGGER order_lines_rollup_update;
UPDATE order_lines l SET line_no = n.rn
    FROM (SELECT order_id, sku, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY sku) AS rn
          FROM order_lines) n
    WHERE l.order_id = n.order_id AND l.sku = n.sku;
ALTER TABLE order_lines ENABLE TRIGGER order_lines_rollup_update;
ALTER TABLE order_lines
    ALTER COLUMN line_no SET NOT NULL,
    ADD CONSTRAINT order_lines_line_no_check CHECK (line_no >= 1),
    DROP CONSTRAINT order_lines_quantity_check,
    DROP CONSTRAINT order_lines_pkey,
    ADD PRIMARY KEY (order_id, line_no);

ALTER TABLE traffic
    ALTER COLUMN product_views DROP NOT NULL,
    ALTER COLUMN add_to_carts DROP NOT NULL,
    ALTER COLUMN checkouts DROP NOT NULL;

ALTER TABLE fulfilment
    ALTER COLUMN carrier DROP NOT NULL,
    ALTER COLUMN promised_day DROP NOT NULL;

CREATE TABLE refunds (
    order_id   TEXT COLLATE "C" NOT NULL REFERENCES orders (order_id),
    refund_id  TEXT COLLATE "C" NOT NULL,
    day        TEXT COLLATE "C" NOT NULL,
    amount     DOUBLE PRECISION NOT NULL CHECK (amount >= 0),
    units      BIGINT CHECK (units >= 0),
    PRIMARY KEY (order_id, refund_id)
);
CREATE INDEX refunds_day ON refunds (day);
