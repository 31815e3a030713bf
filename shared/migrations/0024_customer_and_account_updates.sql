-- PATCH /customers/{id} and PATCH /utility-accounts/{id} change a row after its create: each row says when it
-- last changed (NULL: never), and a customer created under an Idempotency-Key keeps the name and e-mail it was
-- created with, so a create sent again after a rename still answers the customer it made (its body is compared
-- with those, not with the row as renamed). Rows created before this release keep NULL there: their replay is
-- compared with the row, as it was.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS updated_at timestamptz;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS created_with jsonb;
ALTER TABLE utility_accounts ADD COLUMN IF NOT EXISTS updated_at timestamptz;
