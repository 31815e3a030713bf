-- Per-key token buckets for rate-limited calls, shared by every API process (one row per key and action).

CREATE TABLE rate_limit_buckets (
    key_id      BIGINT NOT NULL,
    action      TEXT NOT NULL,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, action)
);
