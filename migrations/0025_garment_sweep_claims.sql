-- The garment sweep claims a row until `sweep_after` (a lease while it works on it, a back-off
-- after a failure, doubling with `sweep_failures`), like the job retention sweeps: two processes
-- split the work, and a garment whose deletion keeps failing never blocks the ones behind it.
ALTER TABLE garments ADD COLUMN sweep_after BIGINT;
ALTER TABLE garments ADD COLUMN sweep_failures BIGINT NOT NULL DEFAULT 0;
