-- The raw bill a decision was taken on (the review task's as the decision is recorded): a correction is exported
-- beside the bill it corrected, not guessed from dates, which a reset's re-fetch of the same bytes moves on.
-- NULL for decisions recorded before this column.
ALTER TABLE review_decisions ADD COLUMN IF NOT EXISTS artifact_uri TEXT;
