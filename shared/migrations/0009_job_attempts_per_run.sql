-- A job's attempts count the workflow runs that started it (a reset is another), not the times
-- mark_job_running ran: a retry of that activity whose first try had committed counted twice.
ALTER TABLE ingestion_jobs ADD COLUMN IF NOT EXISTS last_run_id TEXT;
