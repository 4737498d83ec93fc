-- Which import format last fed each table, and when: a source filled from the same file as
-- the orders (shipments and refunds in a Shopify orders export) is never "incomplete" on a
-- day the orders are there, since a quiet day simply shipped or refunded nothing.
CREATE TABLE feeds (
    tbl         TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
