-- Substring search over 1,000,000 messages (the dashboard's and the API's
-- subject and recipient filters, `LIKE '%…%'`): a scan of the messages
-- table took about 2 s for a rare subject. Trigram full-text indexes
-- (SQLite FTS5, tokenize='trigram', SQLite 3.34+) find the rows holding a
-- substring of three characters or more without reading the table; the
-- query still applies the exact LIKE to what they find.
CREATE VIRTUAL TABLE messages_subject_fts USING fts5(
    subject, content='messages', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER messages_subject_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_subject_fts(rowid, subject) VALUES (new.rowid, new.subject);
END;
CREATE TRIGGER messages_subject_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_subject_fts(messages_subject_fts, rowid, subject)
    VALUES ('delete', old.rowid, old.subject);
END;
CREATE TRIGGER messages_subject_fts_update AFTER UPDATE OF subject ON messages BEGIN
    INSERT INTO messages_subject_fts(messages_subject_fts, rowid, subject)
    VALUES ('delete', old.rowid, old.subject);
    INSERT INTO messages_subject_fts(rowid, subject) VALUES (new.rowid, new.subject);
END;
INSERT INTO messages_subject_fts(messages_subject_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE recipients_address_fts USING fts5(
    address_norm, content='recipients', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER recipients_address_fts_insert AFTER INSERT ON recipients BEGIN
    INSERT INTO recipients_address_fts(rowid, address_norm) VALUES (new.rowid, new.address_norm);
END;
CREATE TRIGGER recipients_address_fts_delete AFTER DELETE ON recipients BEGIN
    INSERT INTO recipients_address_fts(recipients_address_fts, rowid, address_norm)
    VALUES ('delete', old.rowid, old.address_norm);
END;
CREATE TRIGGER recipients_address_fts_update AFTER UPDATE OF address_norm ON recipients BEGIN
    INSERT INTO recipients_address_fts(recipients_address_fts, rowid, address_norm)
    VALUES ('delete', old.rowid, old.address_norm);
    INSERT INTO recipients_address_fts(rowid, address_norm) VALUES (new.rowid, new.address_norm);
END;
INSERT INTO recipients_address_fts(recipients_address_fts) VALUES ('rebuild');
