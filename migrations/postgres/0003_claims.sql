-- Who holds a pending delivery ("host:pid"), so that two senders on one store never both
-- send to a recipient, and a sender that died can be told from one still at work.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT COLLATE "C";
