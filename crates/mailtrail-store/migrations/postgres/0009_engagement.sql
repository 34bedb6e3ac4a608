-- Per-recipient engagement (issue 3), kept in the same transaction as the
-- events that change it (the tracking sink's group commit), and kept when
-- detailed events are purged.

-- When a person (human or proxy opener; never machine or self) first
-- opened the copy, whether that first open was implied by a click (images
-- blocked), and how many of the person opens in `opens` were implied.
ALTER TABLE recipients ADD COLUMN first_open_at BIGINT;
ALTER TABLE recipients ADD COLUMN first_open_implied BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE recipients ADD COLUMN implied_opens BIGINT NOT NULL DEFAULT 0;

UPDATE recipients r SET first_open_at = f.at
FROM (
    SELECT recipient_id, min(at) AS at FROM events
    WHERE kind = 'opened' AND (opener IS NULL OR opener IN ('human', 'proxy'))
    GROUP BY recipient_id
) f
WHERE f.recipient_id = r.id;

-- Clicks per link (the URL the click token signs): a person's clicks and a
-- machine's apart; the sender's own are not counted. Keyed on md5(url): a
-- B-tree entry cannot hold a URL of several kilobytes.
CREATE TABLE recipient_links (
    recipient_id     UUID NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    clicks           BIGINT NOT NULL DEFAULT 0,
    machine_clicks   BIGINT NOT NULL DEFAULT 0,
    first_clicked_at BIGINT NOT NULL,
    last_clicked_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX recipient_links_key ON recipient_links(recipient_id, md5(url));

INSERT INTO recipient_links (recipient_id, url, clicks, machine_clicks, first_clicked_at, last_clicked_at)
SELECT recipient_id, data->>'url',
       count(*) FILTER (WHERE opener IS NULL OR opener IN ('human', 'proxy')),
       count(*) FILTER (WHERE opener = 'machine'),
       min(at), max(at)
FROM events
WHERE kind = 'clicked' AND data->>'url' IS NOT NULL
  AND (opener IS NULL OR opener <> 'self')
GROUP BY recipient_id, data->>'url';

-- One `unsubscribed` event per recipient: a repeated one-click POST (mail
-- providers retry, RFC 8058 section 3.2) refreshes the suppression but adds
-- no event. Earlier duplicates go first, keeping the oldest.
DELETE FROM events e USING events f
WHERE e.kind = 'unsubscribed' AND f.kind = 'unsubscribed'
  AND e.recipient_id = f.recipient_id AND f.id < e.id;
CREATE UNIQUE INDEX events_one_unsubscribe ON events(recipient_id) WHERE kind = 'unsubscribed';
