-- A reviewer's soft claim on an open review task: who has it open and since when, so a colleague opening
-- it sees so and takes it over only deliberately. One row per task; a claim counts only while its holder
-- keeps using the page (seen_at within the UI's claim lapse), the task is open and its holder was seen since
-- the task's current opening (seen_at >= review_tasks.created_at, which a take-back sets anew), so a row any
-- close leaves behind never comes back with the task; the worker deletes it as it closes the task (a decision
-- recorded, an expiry, a cancel), never for a decision refused.
CREATE TABLE IF NOT EXISTS review_claims (
    job_id      UUID PRIMARY KEY REFERENCES review_tasks(job_id) ON DELETE CASCADE,
    key_id      BIGINT NOT NULL,
    reviewer    TEXT NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
