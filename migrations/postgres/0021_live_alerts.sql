-- Alerts as they happen: each alert sent to each destination, once per level of how bad it
-- is (warning, critical, out of stock), on the day it was found. A row is written as
-- 'pending' before the message leaves, so a restart never sends it again; 'failed' ones
-- (nothing reached the destination) may be tried at the next check.
CREATE TABLE live_alerts (
    report       TEXT COLLATE "C" NOT NULL,
    day          TEXT COLLATE "C" NOT NULL,
    alert_key    TEXT COLLATE "C" NOT NULL,
    level        INTEGER NOT NULL,
    destination  TEXT COLLATE "C" NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unknown')),
    title        TEXT NOT NULL,
    error        TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (report, day, alert_key, level, destination)
);
