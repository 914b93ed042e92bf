-- Accounts lifecycle and privacy (issue 19).
-- When the address was verified (`FITROOM_VERIFY_EMAIL`), and when the account was deleted: a
-- deleted account keeps its id for the ledger rows that name it, and nothing else.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- Single-use links mailed to the account's address: stored as SHA-256 of the token only.
CREATE TABLE account_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX account_tokens_by_user ON account_tokens (user_id);

-- What the sessions page shows of each session.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- Results deleted by `FITROOM_RESULT_RETENTION_DAYS` (the generation stays, without a picture).
ALTER TABLE jobs ADD COLUMN result_deleted_at BIGINT;
CREATE INDEX jobs_keeping_results ON jobs (finished_at) WHERE result_key IS NOT NULL;
