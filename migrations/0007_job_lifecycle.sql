-- The generation lifecycle in one place (server/src/jobs/).
--
-- A job keeps the id of its credit hold: settling or releasing it needs no lookup by a key built
-- from the job id. Holds are frozen under 'job:' || job id, unique per user, so the backfill uses
-- that index.
ALTER TABLE jobs ADD COLUMN hold_id TEXT;
UPDATE jobs SET hold_id = (
    SELECT h.id FROM holds h WHERE h.user_id = jobs.user_id AND h.idempotency_key = 'job:' || jobs.id
);

-- Why a job failed, as a code the API and the operator can rely on; `error` keeps the sentence
-- the shopper reads.
ALTER TABLE jobs ADD COLUMN error_code TEXT;

-- The bare task id that the provider's deliveries name. `provider_task_id` may carry more (fal
-- keeps its queue's status and result URLs in it). A verified delivery is bound to a job only by
-- (provider, task_key): never by anything else the callback URL says. fal jobs still running at
-- upgrade have no key; the reconciler's polling finishes them.
ALTER TABLE jobs ADD COLUMN task_key TEXT;
UPDATE jobs SET task_key = provider_task_id WHERE provider_task_id IS NOT NULL AND provider <> 'fal';
CREATE UNIQUE INDEX jobs_by_task_key ON jobs (provider, task_key);

-- Signed deliveries about a task that no job has recorded yet: the provider answered the
-- webhook before our submission wrote down its task id. The submission applies them once it
-- records the task; the reconciler forgets those nobody claimed after a day.
CREATE TABLE early_reports (
    provider    TEXT NOT NULL,
    task_key    TEXT NOT NULL,
    state       TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, task_key)
);

-- Append-only: each step of a job's life, written in the same transaction as the step.
-- Ids are time-ordered (UUID v7), so ordering by id is the order of the steps.
CREATE TABLE job_events (
    id      TEXT PRIMARY KEY,
    job_id  TEXT NOT NULL REFERENCES jobs (id),
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);
