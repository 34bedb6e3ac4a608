-- Inbound mail (bounces, receipts, replies) is stored raw before the SMTP
-- listener answers 250 or the IMAP poller moves its cursor, and processed
-- from here: a crash after acceptance never loses a message.

CREATE TABLE inbound_messages (
    id          UUID PRIMARY KEY,
    -- 'smtp' or 'imap'
    source      TEXT NOT NULL,
    -- SMTP envelope (RFC 5321 MAIL FROM / RCPT TO); a VERP token may be
    -- only in the envelope
    mail_from   TEXT,
    rcpt_to     JSONB NOT NULL,
    -- the IMAP mailbox it was read from
    mailbox     TEXT,
    raw         BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    processed   BOOLEAN NOT NULL DEFAULT FALSE,
    outcome     TEXT
);
CREATE INDEX inbound_messages_pending ON inbound_messages(id) WHERE NOT processed;

-- IMAP position per connected mailbox (RFC 3501 section 2.3.1.1: UIDs are
-- only meaningful together with UIDVALIDITY).
CREATE TABLE mailbox_cursors (
    mailbox      TEXT PRIMARY KEY,
    uid_validity BIGINT NOT NULL,
    last_uid     BIGINT NOT NULL
);

-- correlation by address and recent sends
CREATE INDEX recipients_address_norm ON recipients(address_norm);
