-- An organisation's sending domains, each with the DKIM key mailtrail
-- generated for it (RFC 6376). The worker signs a copy whose From domain
-- is one of its organisation's domains with that domain's key. The private
-- key is PKCS#8 PEM; dns_record is the public TXT value to publish at
-- <selector>._domainkey.<domain> (RFC 6376 section 3.6.1).
CREATE TABLE sending_domains (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    selector    TEXT NOT NULL,
    -- "rsa" or "ed25519"
    algorithm   TEXT NOT NULL,
    private_key TEXT NOT NULL,
    dns_record  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, domain)
);
