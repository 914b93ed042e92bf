-- One schema for SQLite and PostgreSQL: BIGINT integers, TEXT ids, times as unix milliseconds.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- Bumped first by every ledger transaction of this user: it serialises them (a row lock on
    -- PostgreSQL, the write lock on SQLite) and numbers their entries for replay.
    ledger_seq      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token: a leaked table does not leak usable sessions.
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE credit_packages (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    granted         BIGINT NOT NULL CHECK (granted > 0),
    consumed        BIGINT NOT NULL DEFAULT 0 CHECK (consumed >= 0),
    held            BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    -- The unheld remainder written off when the package expired (the `expire` entries).
    expired         BIGINT NOT NULL DEFAULT 0 CHECK (expired >= 0),
    granted_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    -- What the grant fulfils (a payment, the sign-up gift): granting the same source twice is a no-op.
    source          TEXT UNIQUE,
    CHECK (consumed + held + expired <= granted)
);
CREATE INDEX credit_packages_by_user ON credit_packages (user_id, expires_at);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'canceled')),
    cost            BIGINT NOT NULL CHECK (cost > 0),
    provider        TEXT NOT NULL,
    idempotency_key TEXT,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
CREATE INDEX jobs_unfinished ON jobs (status, updated_at);

CREATE TABLE holds (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    idempotency_key TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    state           TEXT NOT NULL CHECK (state IN ('open', 'settled', 'released')),
    created_at      BIGINT NOT NULL,
    deadline_at     BIGINT NOT NULL,
    resolved_at     BIGINT,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX holds_by_job ON holds (job_id);
CREATE INDEX holds_open_by_deadline ON holds (state, deadline_at);

CREATE TABLE hold_allocations (
    hold_id         TEXT NOT NULL REFERENCES holds (id),
    package_id      TEXT NOT NULL REFERENCES credit_packages (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (hold_id, package_id)
);
CREATE INDEX hold_allocations_by_package ON hold_allocations (package_id);

-- Append-only: rows are inserted, never updated or deleted.
CREATE TABLE ledger_entries (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    -- users.ledger_seq of the transaction that wrote it, then the line within that transaction:
    -- the replay order, independent of clocks.
    seq             BIGINT NOT NULL,
    line            BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('grant', 'freeze', 'settle', 'release', 'expire')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    package_id      TEXT REFERENCES credit_packages (id),
    hold_id         TEXT REFERENCES holds (id),
    job_id          TEXT,
    reference       TEXT,
    UNIQUE (user_id, seq, line)
);
