-- When the message of a pending delivery may have reached the server: written before the
-- end of its data (the point after which nobody can tell whether the server took it). A
-- pending claim with it set is never sent again when taken over: it becomes `unknown`.
ALTER TABLE deliveries ADD COLUMN data_at BIGINT;
