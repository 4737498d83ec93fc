-- A refund no longer needs its order in the store (issue 24; twin of
-- migrations/sqlite/0011_refunds_stand_alone.sql, which says why). The key 0006 made has
-- PostgreSQL's default name for it.
ALTER TABLE refunds DROP CONSTRAINT refunds_order_id_fkey;
