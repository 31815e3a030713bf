-- A key may be given a lifetime (python -m api.keys create --expires-in 90d): past expires_at it authenticates no
-- request, as a revoked one. NULL: until revoked.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
