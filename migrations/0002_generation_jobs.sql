-- What a generation job needs beyond its ledger hold: the request, the provider's task, where its
-- images are kept, and the bookkeeping of the reconciler.
ALTER TABLE jobs ADD COLUMN prompt TEXT;
ALTER TABLE jobs ADD COLUMN aspect_ratio TEXT;
ALTER TABLE jobs ADD COLUMN person_key TEXT;
ALTER TABLE jobs ADD COLUMN garment_key TEXT;
ALTER TABLE jobs ADD COLUMN provider_task_id TEXT;
-- A per-job secret in the callback URL of providers that do not sign their webhooks.
ALTER TABLE jobs ADD COLUMN callback_token TEXT;
-- The provider's output, recorded when it announces success and until our copy exists.
ALTER TABLE jobs ADD COLUMN output_url TEXT;
ALTER TABLE jobs ADD COLUMN result_key TEXT;
ALTER TABLE jobs ADD COLUMN result_content_type TEXT;
ALTER TABLE jobs ADD COLUMN submitted_at BIGINT;
ALTER TABLE jobs ADD COLUMN finished_at BIGINT;
-- When the reconciler should look at the job next, and until when one process has claimed it.
ALTER TABLE jobs ADD COLUMN next_check_at BIGINT;
ALTER TABLE jobs ADD COLUMN lease_until BIGINT;
ALTER TABLE jobs ADD COLUMN mirror_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN deleted_at BIGINT;
CREATE UNIQUE INDEX jobs_by_provider_task ON jobs (provider, provider_task_id);
CREATE INDEX jobs_due ON jobs (status, next_check_at);
