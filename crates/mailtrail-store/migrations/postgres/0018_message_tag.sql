-- A message's tag (one word the application groups its mail by, as
-- Postmark's Tag): set by the API's `tag` or X-Mailtrail-Tag, filtered on
-- by the messages list.
ALTER TABLE messages ADD COLUMN tag TEXT;
CREATE INDEX messages_org_tag ON messages (org_id, tag, id) WHERE tag IS NOT NULL;
