-- mailtrail on PostgreSQL: ids are UUIDv7 (ordered by time, so ORDER BY id
-- is ORDER BY creation), timestamps are BIGINT milliseconds since the Unix
-- epoch (the same representation as the SQLite backend), JSON is JSONB.

CREATE TABLE organisations (
    id                   UUID PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    read_receipt_default BOOLEAN NOT NULL DEFAULT TRUE,
    track_opens_default  BOOLEAN NOT NULL DEFAULT TRUE,
    track_clicks_default BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           BIGINT NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    -- lower-cased address: sign-in is case-insensitive
    email_norm    TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE messages (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users(id),
    message_id      TEXT NOT NULL,
    from_address    TEXT NOT NULL,
    from_name       TEXT,
    reply_to        TEXT,
    subject         TEXT NOT NULL,
    content         JSONB NOT NULL,
    read_receipt    BOOLEAN NOT NULL,
    track_opens     BOOLEAN NOT NULL,
    track_clicks    BOOLEAN NOT NULL,
    metadata        JSONB NOT NULL,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (org_id, idempotency_key)
);
-- keyset pagination: WHERE org_id = $1 AND id < $2 ORDER BY id DESC
CREATE INDEX messages_org_id ON messages(org_id, id);
-- inbound correlation joins on the RFC 5322 Message-ID
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE recipients (
    id                     UUID PRIMARY KEY,
    message_id             UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    org_id                 UUID NOT NULL,
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
    updated_at             BIGINT NOT NULL,
    opens                  BIGINT NOT NULL DEFAULT 0,
    machine_opens          BIGINT NOT NULL DEFAULT 0,
    clicks                 BIGINT NOT NULL DEFAULT 0,
    UNIQUE (message_id, position)
);
-- list filters: status (rare statuses found without scanning messages) and
-- recipient address
CREATE INDEX recipients_org_status ON recipients(org_id, status, message_id);
CREATE INDEX recipients_org_address ON recipients(org_id, address_norm);

CREATE TABLE events (
    id           UUID PRIMARY KEY,
    recipient_id UUID NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   UUID NOT NULL,
    org_id       UUID NOT NULL,
    kind         TEXT NOT NULL,
    at           BIGINT NOT NULL,
    opener       TEXT,
    reason       JSONB,
    data         JSONB NOT NULL
);
CREATE INDEX events_recipient ON events(recipient_id, at);
CREATE INDEX events_at ON events(at);

CREATE TABLE jobs (
    id           UUID PRIMARY KEY,
    recipient_id UUID NOT NULL UNIQUE REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   UUID NOT NULL,
    run_at       BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until BIGINT
);
CREATE INDEX jobs_due ON jobs(run_at, id);

CREATE TABLE sandbox_copies (
    id           UUID PRIMARY KEY,
    recipient_id UUID NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    message_id   UUID NOT NULL,
    org_id       UUID NOT NULL,
    address      TEXT NOT NULL,
    raw          BYTEA NOT NULL,
    captured_at  BIGINT NOT NULL
);
CREATE INDEX sandbox_copies_org ON sandbox_copies(org_id, captured_at);

CREATE TABLE suppressions (
    org_id     UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, address)
);
