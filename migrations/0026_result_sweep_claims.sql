-- The result sweep claims and backs off a job row on columns of its own: sharing the input
-- sweep's, a result whose deletion kept failing held that job's input photos past their
-- retention too.
ALTER TABLE jobs ADD COLUMN result_sweep_after BIGINT;
ALTER TABLE jobs ADD COLUMN result_sweep_failures BIGINT NOT NULL DEFAULT 0;
