-- The unfiltered job list (an admin's GET /jobs) pages by (created_at DESC, id DESC): without this
-- index each page is a sequential scan and a sort of every job.
CREATE INDEX ingestion_jobs_created_idx ON ingestion_jobs (created_at DESC, id DESC);
