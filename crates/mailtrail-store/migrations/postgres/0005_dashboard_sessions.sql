-- Dashboard sign-in sessions. Only the SHA-256 of the session id (the
-- cookie value) is stored, so a leaked database holds no working session;
-- the CSRF synchronizer token lives with the session it protects.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- The live feed reads an organisation's newest events by id (UUIDv7, so
-- id order is time order): a range scan of this index.
CREATE INDEX events_org_id ON events(org_id, id);
