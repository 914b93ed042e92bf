-- Every write an admin makes through the console, append-only (issue 20). Rows form a hash
-- chain: each `hash` covers the row and the previous row's hash, so an edited or deleted row is
-- seen by `audit::verify` (and `fitroom ledger verify`). `seq` is unique: two writes racing for
-- the same place in the chain cannot both land there.
CREATE TABLE admin_audit (
    seq         BIGINT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    hash        TEXT NOT NULL
);
