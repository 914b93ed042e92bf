-- Refunds (Stripe `charge.refunded`): a package remembers the payment that bought it, how many
-- credits its refunds ask back (`refund_target`, only ever grows) and how many were actually
-- taken back (`refunded`, the `refund` entries). Credits still held by a job when the refund
-- arrives are taken back when the hold is released, so `refunded` can trail `refund_target`.
-- The same SQL runs on SQLite and PostgreSQL, inside sqlx's migration transaction.

ALTER TABLE credit_packages ADD COLUMN payment TEXT;
ALTER TABLE credit_packages ADD COLUMN refund_target BIGINT NOT NULL DEFAULT 0
    CHECK (refund_target >= 0 AND refund_target <= granted);
-- Widens the package bound of 0001 (consumed + held + expired <= granted) by the refunded credits.
ALTER TABLE credit_packages ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0
    CHECK (refunded >= 0 AND refunded <= refund_target AND consumed + held + expired + refunded <= granted);
-- A refund finds its package by payment; one payment buys one package.
CREATE UNIQUE INDEX credit_packages_by_payment ON credit_packages (payment);

-- `ledger_entries.kind` gains 'refund'. SQLite cannot alter a CHECK constraint, so the table is
-- rebuilt the way SQLite documents it: new table, copy, drop, rename. Nothing references
-- ledger_entries, so dropping it is safe with foreign keys on.
CREATE TABLE ledger_entries_new (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    seq             BIGINT NOT NULL,
    line            BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    -- Named as PostgreSQL named it in 0001, so that a later migration can drop it by name.
    kind            TEXT NOT NULL CONSTRAINT ledger_entries_kind_check
                    CHECK (kind IN ('grant', 'freeze', 'settle', 'release', 'expire', 'refund')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    package_id      TEXT REFERENCES credit_packages (id),
    hold_id         TEXT REFERENCES holds (id),
    job_id          TEXT,
    reference       TEXT
);
INSERT INTO ledger_entries_new (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference)
    SELECT id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;
-- Was UNIQUE (user_id, seq, line) in 0001: the replay order, and the index of a user's journal.
CREATE UNIQUE INDEX ledger_entries_by_user_seq ON ledger_entries (user_id, seq, line);
