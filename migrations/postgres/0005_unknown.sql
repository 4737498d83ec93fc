-- A delivery whose outcome SMTP could not tell (the connection failed after the end of the
-- message) is `unknown`.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'unknown'));
