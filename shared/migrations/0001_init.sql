-- Customers, utility accounts, ingestion jobs, raw artifacts and normalized bills.

CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE utility_accounts (
    id              BIGSERIAL PRIMARY KEY,
    customer_id     BIGINT NOT NULL REFERENCES customers(id),
    provider        TEXT,
    account_number  TEXT NOT NULL,
    label           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (customer_id, provider, account_number)
);
CREATE INDEX utility_accounts_customer_idx ON utility_accounts (customer_id);

CREATE TABLE ingestion_jobs (
    id                  UUID PRIMARY KEY,
    customer_id         BIGINT NOT NULL REFERENCES customers(id),
    utility_account_id  BIGINT NOT NULL REFERENCES utility_accounts(id),
    workflow_id         TEXT NOT NULL UNIQUE,
    job_type            TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    error               TEXT,
    reasons             JSONB NOT NULL DEFAULT '[]',
    result              JSONB,
    steps               JSONB NOT NULL DEFAULT '[]',
    idempotency_scope   TEXT,
    idempotency_key     TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    duration_ms         BIGINT,
    UNIQUE (idempotency_scope, idempotency_key)
);
CREATE INDEX ingestion_jobs_status_idx ON ingestion_jobs (status, created_at DESC);
CREATE INDEX ingestion_jobs_customer_idx ON ingestion_jobs (customer_id, created_at DESC);

CREATE TABLE artifacts (
    id            BIGSERIAL PRIMARY KEY,
    job_id        UUID NOT NULL REFERENCES ingestion_jobs(id),
    uri           TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (job_id, sha256)
);
CREATE INDEX artifacts_sha256_idx ON artifacts (sha256);

CREATE TABLE bills (
    id                  UUID PRIMARY KEY,
    job_id              UUID NOT NULL UNIQUE REFERENCES ingestion_jobs(id),
    customer_id         BIGINT NOT NULL REFERENCES customers(id),
    utility_account_id  BIGINT NOT NULL REFERENCES utility_accounts(id),
    provider            TEXT,
    account_number      TEXT,
    statement_date      DATE,
    bill_period_start   DATE,
    bill_period_end     DATE,
    due_date            DATE,
    currency            TEXT NOT NULL,
    total_amount        NUMERIC(14, 2),
    previous_balance    NUMERIC(14, 2),
    payments_received   NUMERIC(14, 2),
    current_charges     NUMERIC(14, 2),
    content_sha256      TEXT NOT NULL,
    source              TEXT NOT NULL,
    payload             JSONB NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (utility_account_id, account_number, bill_period_start, bill_period_end),
    UNIQUE (utility_account_id, content_sha256)
);
CREATE INDEX bills_customer_idx ON bills (customer_id, bill_period_end DESC);

CREATE TABLE bill_line_items (
    bill_id      UUID NOT NULL REFERENCES bills(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    description  TEXT NOT NULL,
    category     TEXT NOT NULL,
    amount       NUMERIC(14, 2) NOT NULL,
    commodity    TEXT,
    PRIMARY KEY (bill_id, position)
);

CREATE TABLE bill_usage (
    bill_id       UUID NOT NULL REFERENCES bills(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    commodity     TEXT NOT NULL,
    quantity      NUMERIC(18, 4) NOT NULL,
    unit          TEXT NOT NULL,
    meter_number  TEXT,
    PRIMARY KEY (bill_id, position)
);
