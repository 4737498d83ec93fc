-- The delivery ledger: one row per report, report date and recipient, so that a digest
-- reaches each person once however often `send` runs.
CREATE TABLE deliveries (
    report        TEXT COLLATE "C" NOT NULL,
    report_date   TEXT COLLATE "C" NOT NULL,
    recipient     TEXT COLLATE "C" NOT NULL,
    status        TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT COLLATE "C",
    message_id    TEXT COLLATE "C",
    sent_at       BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (report, report_date, recipient)
);
