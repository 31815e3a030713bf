-- The reconciler asks Temporal about jobs still open in Postgres whose workflow may have been
-- ended from outside (Terminate in the Web UI): checked_at rotates it through them, each at most
-- once per JOB_RECONCILE_AFTER.

ALTER TABLE ingestion_jobs ADD COLUMN checked_at TIMESTAMPTZ;

CREATE INDEX ingestion_jobs_open_idx ON ingestion_jobs ((GREATEST(updated_at, dispatched_at, checked_at)))
    WHERE status IN ('PENDING', 'RUNNING', 'NEEDS_REVIEW') AND dispatched_at IS NOT NULL;
