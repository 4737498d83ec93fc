-- Which import format last fed each table, and when: a source filled from the same file as
-- the orders (shipments and refunds in a Shopify orders export) is never "incomplete" on a
-- day the orders are there, since a quiet day simply shipped or refunded nothing.
CREATE TABLE feeds (
    tbl         TEXT COLLATE "C" PRIMARY KEY,
    format      TEXT COLLATE "C" NOT NULL,
    updated_at  BIGINT NOT NULL
);
