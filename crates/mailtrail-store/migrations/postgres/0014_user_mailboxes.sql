-- Each user's own mailbox, connected over IMAP (DESIGN.md section 2,
-- "mailbox"; flows 3 and 4). The URL with its password or OAuth 2.0
-- secrets is kept only sealed (ChaCha20-Poly1305 under a key outside the
-- database, bound to the user's id), so a dump of this table reveals no
-- secret; `display` is the same URL without any secret, to show.

CREATE TABLE user_mailboxes (
    user_id       UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    org_id        UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    -- imap[s]://user@host:port/FOLDER, no secret
    display       TEXT NOT NULL,
    sealed_url    BYTEA NOT NULL,
    connected_at  BIGINT NOT NULL,
    -- the last session that worked, and the first failure since
    last_ok_at    BIGINT,
    failing_since BIGINT,
    last_error    TEXT
);
CREATE INDEX user_mailboxes_org ON user_mailboxes(org_id);
