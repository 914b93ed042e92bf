-- Each `ledger verify` run (the CLI's, or the console's button), so that the operator sees when
-- the ledgers were last checked and what was found (issue 20). `details` keeps the first
-- violations, one per line; the run that found them printed them all.
CREATE TABLE ledger_checks (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    run_by      TEXT NOT NULL,
    violations  BIGINT NOT NULL CHECK (violations >= 0),
    summary     TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX ledger_checks_by_time ON ledger_checks (at);
