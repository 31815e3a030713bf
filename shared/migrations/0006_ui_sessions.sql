-- Review UI sign-in sessions in Postgres, so every API process (and a restarted one) sees them.
-- Neither the cookie's session id nor the API key is stored: only their SHA-256, as for api_keys.

CREATE TABLE ui_sessions (
    id_hash     TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL,
    flashes     JSONB NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX ui_sessions_expires_idx ON ui_sessions (expires_at);

-- Secrets every API process must share, created once by whichever starts first (the CSRF key).
CREATE TABLE app_secrets (
    name        TEXT PRIMARY KEY,
    value       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
