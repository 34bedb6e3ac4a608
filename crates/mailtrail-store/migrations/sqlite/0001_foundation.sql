-- mailtrail on SQLite: ids are 16-byte UUIDv7 blobs (byte order = time
-- order, so ORDER BY id is ORDER BY creation), timestamps are integer
-- milliseconds since the Unix epoch, JSON is stored as text.

CREATE TABLE organisations (
    id                   BLOB PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    read_receipt_default INTEGER NOT NULL DEFAULT 1,
    track_opens_default  INTEGER NOT NULL DEFAULT 1,
    track_clicks_default INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL
);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    -- lower-cased address: sign-in is case-insensitive
    email_norm    TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE messages (
    id              BLOB PRIMARY KEY,
    org_id          BLOB NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users(id),
    message_id      TEXT NOT NULL,
    from_address    TEXT NOT NULL,
    from_name       TEXT,
    reply_to        TEXT,
    subject         TEXT NOT NULL,
    content         TEXT NOT NULL,
    read_receipt    INTEGER NOT NULL,
    track_opens     INTEGER NOT NULL,
    track_clicks    INTEGER NOT NULL,
    metadata        TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (org_id, idempotency_key)
);
-- keyset pagination: WHERE org_id = ? AND id < ? ORDER BY id DESC
CREATE INDEX messages_org_id ON messages(org_id, id);
-- inbound correlation joins on the RFC 5322 Message-ID
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE recipients (
    id                     BLOB PRIMARY KEY,
    message_id             BLOB NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    org_id                 BLOB NOT NULL,
    position               INTEGER NOT NULL,
    address                TEXT NOT NULL,
    address_norm           TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    -- a cache of the fold of the events with Status::apply
    status                 TEXT NOT NULL,
    reason_smtp_code       INTEGER,
    reason_enhanced_status TEXT,
    reason_name            TEXT,
    reason_text            TEXT,
    updated_at             INTEGER NOT NULL,
    opens                  INTEGER NOT NULL DEFAULT 0,
    machine_opens          INTEGER NOT NULL DEFAULT 0,
    clicks                 INTEGER NOT NULL DEFAULT 0,
    UNIQUE (message_id, position)
);
-- list filters: status (rare statuses found without scanning messages) and
-- recipient address
CREATE INDEX recipients_org_status ON recipients(org_id, status, message_id);
CREATE INDEX recipients_org_address ON recipients(org_id, address_norm);

CREATE TABLE events (
    id           BLOB PRIMARY KEY,
    recipient_id BLOB NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   BLOB NOT NULL,
    org_id       BLOB NOT NULL,
    kind         TEXT NOT NULL,
    at           INTEGER NOT NULL,
    opener       TEXT,
    reason       TEXT,
    data         TEXT NOT NULL
);
CREATE INDEX events_recipient ON events(recipient_id, at);
CREATE INDEX events_at ON events(at);

CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    recipient_id BLOB NOT NULL UNIQUE REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   BLOB NOT NULL,
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until INTEGER
);
CREATE INDEX jobs_due ON jobs(run_at, id);

CREATE TABLE sandbox_copies (
    id           BLOB PRIMARY KEY,
    recipient_id BLOB NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   BLOB NOT NULL,
    org_id       BLOB NOT NULL,
    address      TEXT NOT NULL,
    raw          BLOB NOT NULL,
    captured_at  INTEGER NOT NULL
);
CREATE INDEX sandbox_copies_org ON sandbox_copies(org_id, captured_at);

CREATE TABLE suppressions (
    org_id     BLOB NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, address)
);
