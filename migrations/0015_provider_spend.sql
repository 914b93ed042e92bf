-- Provider spend as a second ledger (issue 18). Each task offered to a provider holds its
-- estimated cost while it runs; success settles it, anything else releases it.
CREATE TABLE provider_tasks (
    id              TEXT PRIMARY KEY,
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    provider        TEXT NOT NULL,
    -- Set when the provider accepted the task: the one a success settles.
    task_key        TEXT,
    estimate_micros BIGINT NOT NULL CHECK (estimate_micros >= 0),
    cost_micros     BIGINT CHECK (cost_micros >= 0),
    state           TEXT NOT NULL CHECK (state IN ('held', 'settled', 'released')),
    -- The budget period it counts in, when the provider has a budget.
    period          TEXT,
    period_start    BIGINT,
    created_at      BIGINT NOT NULL,
    resolved_at     BIGINT
);
CREATE INDEX provider_tasks_by_job ON provider_tasks (job_id, state);
CREATE INDEX provider_tasks_by_provider ON provider_tasks (provider, created_at);

-- A budgeted provider's account for one period: what its held and settled tasks commit. The
-- conditional update of this row is where two processes submitting at once are serialised.
CREATE TABLE provider_budgets (
    provider         TEXT NOT NULL,
    period           TEXT NOT NULL,
    period_start     BIGINT NOT NULL,
    committed_micros BIGINT NOT NULL CHECK (committed_micros >= 0),
    PRIMARY KEY (provider, period, period_start)
);

-- Consecutive submission failures and cool-downs, shared by every process on the database.
CREATE TABLE provider_health (
    provider             TEXT PRIMARY KEY,
    consecutive_failures BIGINT NOT NULL,
    cooling_until        BIGINT,
    updated_at           BIGINT NOT NULL
);

-- The routing window's figures: finished jobs per provider by time.
CREATE INDEX jobs_by_provider_finished ON jobs (provider, finished_at);

-- The provider a request named, if any: routing puts it first, on every submission of the job
-- (the reconciler's too). Without one, `FITROOM_ROUTING` decides.
ALTER TABLE jobs ADD COLUMN requested_provider TEXT;
