-- The headline figures of each report date as first mailed, so that a later import that
-- changes a day already mailed (a late refund, a corrected export) is said once in the next
-- email instead of silently rewriting what people read.
CREATE TABLE mailed_figures (
    report_date  TEXT COLLATE "C" NOT NULL,
    metric       TEXT COLLATE "C" NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    mailed_at    BIGINT NOT NULL,
    PRIMARY KEY (report_date, metric)
);
