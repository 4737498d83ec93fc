-- A delivery whose outcome SMTP could not tell (the connection failed after the end of the
-- message) is `unknown`. SQLite cannot change a CHECK constraint in place, so the ledger is
-- rebuilt with the same rows.
CREATE TABLE deliveries_new (
    report        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unknown')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    message_id    TEXT,
    sent_at       INTEGER,
    updated_at    INTEGER NOT NULL,
    claimed_by    TEXT,
    PRIMARY KEY (report, report_date, recipient)
);
INSERT INTO deliveries_new
    SELECT report, report_date, recipient, status, attempts, last_error, message_id, sent_at,
           updated_at, claimed_by
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
