-- Follow-up sequences (DESIGN.md section 4, flow 6): the contacts a user
-- writes to, and sequences of steps. A contact's address is stored
-- normalised (lower case) and is unique within its organisation, so an
-- import of the same address updates it instead of adding a twin.

CREATE TABLE contacts (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    company     TEXT NOT NULL DEFAULT '',
    -- IANA name, checked against the bundled tzdb when written
    time_zone   TEXT,
    -- JSON object of custom fields, name -> text
    fields      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, address)
);
CREATE INDEX contacts_org ON contacts(org_id, id);

CREATE TABLE sequences (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    -- the sending user, whose rolling 24-hour limit applies
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    from_address TEXT NOT NULL,
    from_name   TEXT,
    -- JSON {"days", "from_hour", "to_hour"}, or NULL to send at any time
    send_window TEXT,
    -- the zone of the window for contacts without one
    time_zone   TEXT NOT NULL,
    daily_limit INTEGER NOT NULL,
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX sequences_org ON sequences(org_id, id);

CREATE TABLE sequence_steps (
    id          UUID PRIMARY KEY,
    sequence_id UUID NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    -- 1-based order
    position    INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    html        TEXT,
    text        TEXT,
    -- minutes, hours, days or business_days, and how many
    wait_unit   TEXT NOT NULL,
    wait_count  INTEGER NOT NULL,
    new_thread  BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (sequence_id, position)
);
