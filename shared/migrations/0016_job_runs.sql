-- Which workflow run a job's row and its review task speak for. An operator's reset starts a new
-- run of the same workflow; a late attempt of the older run must then change nothing, and the new
-- run must be able to open the job (and its review task) again. Runs are ordered by when Temporal
-- scheduled their first step, so no Postgres time is compared with a Temporal one.
ALTER TABLE ingestion_jobs ADD COLUMN IF NOT EXISTS run_scheduled_at TIMESTAMPTZ;
ALTER TABLE ingestion_jobs ADD COLUMN IF NOT EXISTS ended_run_id TEXT;
ALTER TABLE review_tasks ADD COLUMN IF NOT EXISTS run_id TEXT;
UPDATE review_tasks t SET run_id = j.last_run_id FROM ingestion_jobs j WHERE j.id = t.job_id AND t.run_id IS NULL;
