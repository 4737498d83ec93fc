-- The headline figures of each report date as first mailed, so that a later import that
-- changes a day already mailed (a late refund, a corrected export) is said once in the next
-- email instead of silently rewriting what people read.
CREATE TABLE mailed_figures (
    report_date  TEXT NOT NULL,
    metric       TEXT NOT NULL,
    value        REAL NOT NULL,
    mailed_at    INTEGER NOT NULL,
    PRIMARY KEY (report_date, metric)
) WITHOUT ROWID;
