-- Per-recipient engagement (issue 3), kept in the same transaction as the
-- events that change it (the tracking sink's group commit), and kept when
-- detailed events are purged.

-- When a person (human or proxy opener; never machine or self) first
-- opened the copy, whether that first open was implied by a click (images
-- blocked), and how many of the person opens in `opens` were implied.
ALTER TABLE recipients ADD COLUMN first_open_at INTEGER;
ALTER TABLE recipients ADD COLUMN first_open_implied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN implied_opens INTEGER NOT NULL DEFAULT 0;

UPDATE recipients SET first_open_at = (
    SELECT min(e.at) FROM events e
    WHERE e.recipient_id = recipients.id AND e.kind = 'opened'
      AND (e.opener IS NULL OR e.opener IN ('human', 'proxy'))
);

-- Clicks per link (the URL the click token signs): a person's clicks and a
-- machine's apart; the sender's own are not counted.
CREATE TABLE recipient_links (
    recipient_id     BLOB NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    clicks           INTEGER NOT NULL DEFAULT 0,
    machine_clicks   INTEGER NOT NULL DEFAULT 0,
    first_clicked_at INTEGER NOT NULL,
    last_clicked_at  INTEGER NOT NULL,
    PRIMARY KEY (recipient_id, url)
);

INSERT INTO recipient_links (recipient_id, url, clicks, machine_clicks, first_clicked_at, last_clicked_at)
SELECT recipient_id, json_extract(data, '$.url'),
       sum(CASE WHEN opener IS NULL OR opener IN ('human', 'proxy') THEN 1 ELSE 0 END),
       sum(CASE WHEN opener = 'machine' THEN 1 ELSE 0 END),
       min(at), max(at)
FROM events
WHERE kind = 'clicked' AND json_extract(data, '$.url') IS NOT NULL
  AND (opener IS NULL OR opener <> 'self')
GROUP BY recipient_id, json_extract(data, '$.url');

-- One `unsubscribed` event per recipient: a repeated one-click POST (mail
-- providers retry, RFC 8058 section 3.2) refreshes the suppression but adds
-- no event. Earlier duplicates go first, keeping the oldest.
DELETE FROM events WHERE kind = 'unsubscribed' AND EXISTS (
    SELECT 1 FROM events f
    WHERE f.kind = 'unsubscribed' AND f.recipient_id = events.recipient_id AND f.id < events.id
);
CREATE UNIQUE INDEX events_one_unsubscribe ON events(recipient_id) WHERE kind = 'unsubscribed';
