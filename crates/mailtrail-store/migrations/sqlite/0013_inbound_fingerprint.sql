-- What identifies an IMAP message across a UIDVALIDITY change (RFC 3501
-- section 2.3.1.1: the server may renumber a whole mailbox, and the poller
-- must then read it again from the start): its Message-ID, else a digest
-- of its bytes. A message the mailbox already gave is not stored twice, so
-- its events are not recorded twice.
ALTER TABLE inbound_messages ADD COLUMN fingerprint TEXT;
CREATE INDEX inbound_messages_fingerprint ON inbound_messages(mailbox, fingerprint)
    WHERE fingerprint IS NOT NULL;

-- The poller skips mail that arrived before the first send: nothing in it
-- can be about one. The first send is the lowest created_at.
CREATE INDEX messages_created_at ON messages(created_at);
