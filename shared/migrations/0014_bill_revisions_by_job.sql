-- A persist retried after a re-issue replaced the bill it stored finds its own version here (by
-- job), and answers with when that version was stored, so the job neither ends DUPLICATE of the
-- job that revised it nor publishes its version dated after the re-issue.
ALTER TABLE bill_revisions ADD COLUMN stored_at TIMESTAMPTZ;
CREATE INDEX bill_revisions_job_idx ON bill_revisions (job_id);
