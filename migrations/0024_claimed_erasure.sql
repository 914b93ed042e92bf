-- Deleting an account and sweeping retained images are claimed jobs (issue 19; DESIGN.md:
-- "Sweepers claim rows like the reconciler"), safe with several processes.

-- An account marked deleted whose stored images are still being erased. The row is written in
-- the same transaction that frees the address and ends the sessions; a pass claims it
-- (`lease_until`), erases, and sets `erased_at` once a pass after `settle_at` (requests let in
-- just before the mark have finished by then) found nothing left. `next_at` backs off after
-- a failure.
CREATE TABLE account_erasures (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    requested_at BIGINT NOT NULL,
    settle_at    BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,
    lease_until  BIGINT,
    failures     BIGINT NOT NULL DEFAULT 0,
    erased_at    BIGINT
);
CREATE INDEX account_erasures_due ON account_erasures (next_at) WHERE erased_at IS NULL;

-- The retention sweeps claim a job row until `sweep_after` (a lease while they work on it, a
-- back-off after a failure), so two processes split the rows and a row that keeps failing
-- waits its turn instead of heading every batch.
ALTER TABLE jobs ADD COLUMN sweep_after BIGINT;
ALTER TABLE jobs ADD COLUMN sweep_failures BIGINT NOT NULL DEFAULT 0;

-- A finished job still naming the provider's copy of its result is due for the input sweep
-- too: that link goes with the photos.
DROP INDEX jobs_keeping_inputs;
CREATE INDEX jobs_keeping_inputs ON jobs (finished_at)
    WHERE person_key IS NOT NULL OR garment_key IS NOT NULL OR output_url IS NOT NULL;
