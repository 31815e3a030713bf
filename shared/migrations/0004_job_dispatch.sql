-- Jobs are accepted into Postgres and started on Temporal by a dispatcher (a transactional
-- outbox): POST /jobs answers after one INSERT, and at most JOB_DISPATCH_MAX_RUNNING jobs run
-- at once, so a burst of uploads queues here instead of flooding the workers.

ALTER TABLE ingestion_jobs ADD COLUMN start_request JSONB;
ALTER TABLE ingestion_jobs ADD COLUMN dispatched_at TIMESTAMPTZ;

-- Jobs from before this migration were started by the request that created them.
UPDATE ingestion_jobs SET dispatched_at = created_at;

CREATE INDEX ingestion_jobs_undispatched_idx ON ingestion_jobs (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX ingestion_jobs_active_idx ON ingestion_jobs (status)
    WHERE status IN ('PENDING', 'RUNNING') AND dispatched_at IS NOT NULL;
