-- An organisation's own networks (office, VPN): opens and clicks from
-- them are the sender's (opener "self") and never count as a recipient's.
-- Loaded into memory at start and on every change: the tracking endpoints
-- never read this table per hit.
CREATE TABLE sender_networks (
    org_id   UUID NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    -- CIDR text, validated before it is stored
    network  TEXT NOT NULL,
    PRIMARY KEY (org_id, position)
);
