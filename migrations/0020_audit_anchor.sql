-- Each verification keeps the audit log's head as it found it (issue 20): the chain itself sees
-- an edited or removed row before its last entry, and the next verification sees the newest
-- entries removed (or the whole log emptied) since, as the head it kept is gone.
ALTER TABLE ledger_checks ADD COLUMN audit_seq BIGINT;
ALTER TABLE ledger_checks ADD COLUMN audit_hash TEXT;
