-- A utility's re-issued statement for a period already stored (a later statement date) replaces
-- the stored bill under the same bill id (persist_bill); the version it replaced is kept here, so
-- nothing a job once stored is lost. No foreign key: the replaced row is deleted and written anew.
CREATE TABLE bill_revisions (
    bill_id          UUID NOT NULL,
    job_id           UUID NOT NULL,
    replaced_by_job  UUID NOT NULL,
    replaced_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    content_sha256   TEXT NOT NULL,
    source           TEXT NOT NULL,
    payload          JSONB NOT NULL,
    PRIMARY KEY (bill_id, job_id)
);
CREATE INDEX bill_revisions_replaced_by_job_idx ON bill_revisions (replaced_by_job);

ALTER TABLE bills ADD COLUMN revised_at TIMESTAMPTZ;
