-- Input photos are deleted FITROOM_INPUT_RETENTION_HOURS after their job ends (issue 19): the
-- sweeper finds the ended jobs that still keep photos through this index, however many jobs
-- have ended before.
CREATE INDEX jobs_keeping_inputs ON jobs (finished_at) WHERE person_key IS NOT NULL OR garment_key IS NOT NULL;
