-- How a provider answered a task it was sent and did not take (`unavailable` or `rejected`):
-- success rates are measured from what each provider was sent, submission failures included,
-- rather than from the provider a job named when it was created.
ALTER TABLE provider_tasks ADD COLUMN submit_failure TEXT;

-- The routing window's figures: tasks per provider by the time they ended.
CREATE INDEX provider_tasks_by_provider_resolved ON provider_tasks (provider, resolved_at);
