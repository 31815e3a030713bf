-- POST /customers honours an Idempotency-Key as job starts and uploads do: a client that sends a
-- create again after a timeout gets the customer it made, not a second one. Keys are scoped per
-- API key (idempotency_scope), like ingestion_jobs'.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS idempotency_scope TEXT;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS idempotency_key TEXT;
ALTER TABLE customers ADD CONSTRAINT customers_idempotency_key_unique UNIQUE (idempotency_scope, idempotency_key);
