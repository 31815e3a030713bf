-- GET /jobs?utility_account_id= pages one account's jobs by (created_at DESC, id DESC): without this index
-- each page scans every job (or every job of the customer) for the account's.
CREATE INDEX IF NOT EXISTS ingestion_jobs_account_idx ON ingestion_jobs (utility_account_id, created_at DESC, id DESC);
