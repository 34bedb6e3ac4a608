-- Webhooks (DESIGN.md section 4, flow 8). An organisation's endpoints; each
-- event is queued for every matching endpoint as a delivery, in the
-- transaction that records the event, and each try to POST it is an
-- attempt. The payload is stored as the exact bytes that are signed, so
-- every retry and replay sends the same body under the same webhook-id.

CREATE TABLE webhook_endpoints (
    id              BLOB PRIMARY KEY,
    org_id          BLOB NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    -- JSON array of event kinds, or ["*"]
    events          TEXT NOT NULL,
    -- whsec_ + base64 (Standard Webhooks); the receiver holds the same
    secret          TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1,
    -- why it was disabled (410 Gone, failing for days), shown to its owner
    disabled_reason TEXT,
    disabled_at     INTEGER,
    -- the first failed attempt since the last success
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id, enabled);

CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    org_id          BLOB NOT NULL,
    event_id        BLOB NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    -- pending, succeeded or failed
    state           TEXT NOT NULL,
    -- attempts since the delivery was queued or last replayed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    locked_by       TEXT,
    locked_until    INTEGER,
    last_status     INTEGER,
    last_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_locked ON webhook_deliveries(locked_by)
    WHERE locked_by IS NOT NULL;

CREATE TABLE webhook_attempts (
    id           BLOB PRIMARY KEY,
    delivery_id  BLOB NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    -- the HTTP status, when an answer came
    status_code  INTEGER,
    -- what went wrong without an answer (refused target, timeout, reset)
    error        TEXT,
    -- the first bytes of the answer's body
    response     TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
