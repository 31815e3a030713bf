-- Which workflow chain a job belongs to: its workflow's first execution run id, recorded by the run
-- that first takes the job (or, for a job taken before this column, by that run when it ends the job
-- and no other run took it). An operator's reset keeps that id, so its run may take the job over; a
-- new start under the job's workflow id (its sealed input copied out of history, started with
-- ALLOW_DUPLICATE) has its own, and is refused. A row whose chain stays unknown (NULL) keeps the old
-- rule: any later run may take it over, and records nothing.
ALTER TABLE ingestion_jobs ADD COLUMN IF NOT EXISTS first_run_id TEXT;
