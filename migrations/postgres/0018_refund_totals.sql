-- The refund totals a Shopify orders export gives (one `Refunded Amount` per order, with no
-- date), held for the length of the import that read them: what is new against the refunds
-- already recorded counts on the day the import first saw it, never on a day already mailed.
CREATE TABLE shopify_refund_totals (
    order_id  TEXT COLLATE "C" PRIMARY KEY,
    amount    DOUBLE PRECISION NOT NULL
);
