-- Each live source's sync state. The cursor (the latest `updated_at` the source has given,
-- RFC 3339 in UTC) is written in the same transaction as the rows it covers, so a sync cut
-- off leaves both as they were. The last success and the last attempt's failure are for
-- `status`, the owner's summary and the email's freshness line. A Shopify bulk operation
-- started and not yet read is kept, so that a run cut off picks it up rather than starting
-- a second one.
CREATE TABLE source_state (
    source        TEXT PRIMARY KEY,
    cursor        TEXT,
    synced_at     INTEGER,
    reach_from    TEXT,
    reach_to      TEXT,
    attempted_at  INTEGER,
    failure       TEXT,
    bulk_id       TEXT,
    bulk_since    TEXT
) WITHOUT ROWID;
