-- The time zone a live source's days follow (a GA4 property's, a shop's), as it last said:
-- the email's footer names a zone other than the shop's.
ALTER TABLE source_state ADD COLUMN zone TEXT;
