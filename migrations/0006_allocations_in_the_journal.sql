-- A hold's allocation was written twice by every freeze: once as `hold_allocations` rows, once as
-- the `freeze` entries of the journal (one per package, same amounts, same transaction). On SQLite
-- every row lands in each B-tree of its table, and every B-tree page a commit touches is copied
-- whole into the WAL: the duplicate cost two pages per freeze, a tenth of a freeze+settle pair.
--
-- The journal is the record: a hold's allocation is its `freeze` entries. The hold keeps the
-- number of the ledger transaction that froze it (`freeze_seq`), so its entries are found through
-- the journal's primary key (user_id, seq, line), without a new index.
--
-- `holds_by_job` goes too: every hold was indexed by job and only the job's outcome looked one up.
-- A job freezes under its own idempotency key, so its hold is found by (user_id, idempotency_key),
-- which is unique and indexed anyway.
--
-- The same SQL runs on SQLite and PostgreSQL, inside sqlx's migration transaction.

ALTER TABLE holds ADD COLUMN freeze_seq BIGINT NOT NULL DEFAULT 0;
UPDATE holds SET freeze_seq = f.seq
    FROM (SELECT user_id, hold_id, MIN(seq) AS seq FROM ledger_entries WHERE kind = 'freeze' GROUP BY user_id, hold_id) AS f
    WHERE f.hold_id = holds.id AND f.user_id = holds.user_id;

DROP TABLE hold_allocations;
DROP INDEX holds_by_job;
