-- Which workflow chain a job belongs to: its workflow's first execution run id, recorded by the run
-- that first takes the job. An operator's reset keeps that id, so its run may take the job over; a
-- new start under the job's workflow id (its sealed input copied out of history, started with
-- ALLOW_DUPLICATE) has its own, and is refused. Rows taken before this column existed keep NULL:
-- any later run may take them over, as before, and records its chain.
ALTER TABLE ingestion_jobs ADD COLUMN IF NOT EXISTS first_run_id TEXT;
