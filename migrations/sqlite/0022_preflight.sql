-- The campaign pre-flight. A planned campaign may state the lift marketing expects (0.3 for
-- 30% more orders) and its discount (0.2 for 20% off); without a lift the channel's past
-- campaigns give it, as the forecast does.
ALTER TABLE campaigns ADD COLUMN expected_lift DOUBLE PRECISION CHECK (expected_lift > -1);
ALTER TABLE campaigns ADD COLUMN discount DOUBLE PRECISION CHECK (discount >= 0 AND discount < 1);

-- Operations' confirmation of a campaign, for the plan it saw: `plan` is the plan's
-- fingerprint (channel, dates, SKUs, lift, discount), so changed dates need a new one.
CREATE TABLE preflight_confirmations (
    campaign      TEXT NOT NULL,
    plan          TEXT NOT NULL,
    note          TEXT NOT NULL,
    confirmed_at  BIGINT NOT NULL,
    PRIMARY KEY (campaign, plan)
);

-- The handoff notes serve sent: one per campaign, plan and verdict (`fingerprint`) and
-- destination. A row is written as 'pending' before the message leaves, so a restart never
-- sends it again; only a 'failed' one (which reached nobody) is tried again.
CREATE TABLE handoffs (
    campaign     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    destination  TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unknown')),
    error        TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (campaign, fingerprint, destination)
);
