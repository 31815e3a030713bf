-- One audit row per decision taken, not per revision. An operator's reset back into a review's wait (the decision
-- left out, to have it taken again) takes the task back under the same revision: the decision taken there is audited
-- beside the one it replaced. Keyed by revision, it was dropped as a repeat: the first row stood while the job ended
-- otherwise. The same decision recorded again (an activity's retry, a reset run that received it again) matches
-- its own row and adds none. Readers take a revision's latest decision (decided_at).
ALTER TABLE review_decisions ADD COLUMN IF NOT EXISTS decision_key TEXT GENERATED ALWAYS AS (
    md5(action || chr(31) || reviewer || chr(31) || coalesce(note, '') || chr(31) || coalesce(after::text, ''))
) STORED;
ALTER TABLE review_decisions DROP CONSTRAINT IF EXISTS review_decisions_pkey;
ALTER TABLE review_decisions ADD PRIMARY KEY (job_id, revision, decision_key);
