-- Every row a ledger operation inserts or moves is written into each index of its table, and on
-- SQLite every index touched is one more page copied whole into the WAL at commit. Two indexes
-- were written by every freeze and settle without serving what they cost:
--
-- 1. `ledger_entries.id` as the primary key. Entries are only ever found by user in journal order,
--    the unique (user_id, seq, line); nothing looks an entry up by id. The table is rebuilt the
--    way SQLite documents it (new table, copy, drop, rename) with (user_id, seq, line) as its
--    primary key: one index less for every entry. `id` stays, unique by construction (a fresh
--    time-ordered UUID per operation).
-- 2. `holds_open_by_deadline` indexed every hold by (state, deadline_at), so a settle moved its
--    hold from the 'open' part of the index to the 'settled' part: two leaves written. The
--    reconciler only ever asks for open holds; as a partial index over open holds a settle just
--    removes the row, and the index stays as small as the number of running jobs.
--
-- The same SQL runs on SQLite and PostgreSQL, inside sqlx's migration transaction.

CREATE TABLE ledger_entries_new (
    id              TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    seq             BIGINT NOT NULL,
    line            BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL CONSTRAINT ledger_entries_kind_check
                    CHECK (kind IN ('grant', 'freeze', 'settle', 'release', 'expire', 'refund')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    package_id      TEXT REFERENCES credit_packages (id),
    hold_id         TEXT REFERENCES holds (id),
    job_id          TEXT,
    reference       TEXT,
    PRIMARY KEY (user_id, seq, line)
);
INSERT INTO ledger_entries_new (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference)
    SELECT id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;

DROP INDEX holds_open_by_deadline;
CREATE INDEX holds_open_by_deadline ON holds (deadline_at) WHERE state = 'open';
