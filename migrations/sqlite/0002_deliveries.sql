-- The delivery ledger: one row per report, report date and recipient, so that a digest
-- reaches each person once however often `send` runs.
CREATE TABLE deliveries (
    report        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    message_id    TEXT,
    sent_at       INTEGER,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (report, report_date, recipient)
);
