-- Human review: one task per job awaiting a decision, and an audit row per decision.

CREATE TABLE review_tasks (
    job_id        UUID PRIMARY KEY REFERENCES ingestion_jobs(id),
    status        TEXT NOT NULL,
    reasons       JSONB NOT NULL,
    bill          JSONB,
    artifact_uri  TEXT NOT NULL,
    revision      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    escalated_at  TIMESTAMPTZ,
    closed_at     TIMESTAMPTZ
);
CREATE INDEX review_tasks_status_idx ON review_tasks (status, created_at);

CREATE TABLE review_decisions (
    job_id      UUID NOT NULL REFERENCES ingestion_jobs(id),
    revision    TEXT NOT NULL,
    action      TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    note        TEXT,
    before      JSONB,
    after       JSONB,
    diff        JSONB NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, revision)
);
