-- Two bills of one account are the same statement when their period matches; a bill without
-- a period (approved by a reviewer as it was) is identified by its file alone. The original
-- NULLS NOT DISTINCT key made every period-less bill of an account a duplicate of the first.

DO $$
DECLARE
    natural_key TEXT;
BEGIN
    SELECT conname INTO natural_key
      FROM pg_constraint
     WHERE conrelid = 'bills'::regclass AND contype = 'u'
       AND pg_get_constraintdef(oid) LIKE '%bill_period_start%';
    IF natural_key IS NOT NULL THEN
        EXECUTE format('ALTER TABLE bills DROP CONSTRAINT %I', natural_key);
    END IF;
END $$;

CREATE UNIQUE INDEX bills_natural_key
    ON bills (utility_account_id, account_number, bill_period_start, bill_period_end) NULLS NOT DISTINCT
 WHERE bill_period_start IS NOT NULL AND bill_period_end IS NOT NULL;
