-- A reviewer may store a bill as entered though plausibility checks fail (an adjustment outside the
-- charges, no meter reading): the audit row keeps which checks were overridden ('{}' for none).
ALTER TABLE review_decisions ADD COLUMN overridden TEXT[] NOT NULL DEFAULT '{}';
