-- Removing a user reassigns their messages inside the write transaction
-- (messages.user_id has no cascade): without this index that is a scan of
-- every message (256 ms at 1,000,000 messages, holding the write lock).
CREATE INDEX messages_user ON messages(user_id);
