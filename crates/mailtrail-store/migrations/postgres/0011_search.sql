-- Substring search (the subject and recipient filters, ILIKE/LIKE '%…%')
-- over a million messages without a sequential scan: pg_trgm's GIN
-- operator class serves both (a trusted extension since PostgreSQL 13, so
-- the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_subject_trgm ON messages USING gin (subject gin_trgm_ops);
CREATE INDEX recipients_address_trgm ON recipients USING gin (address_norm gin_trgm_ops);
