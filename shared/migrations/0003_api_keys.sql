-- API keys: only a hash of each key is stored; the key itself is shown once.

CREATE TABLE api_keys (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    customer_id   BIGINT REFERENCES customers(id),
    key_hash      TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
