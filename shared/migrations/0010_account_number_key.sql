-- One account number, however it is written: "1234-5678 9012", "123456789012" and
-- "ab12" / "AB12" are the same account. Keyed on the raw text, a customer could register
-- one account twice and the same statement, read once with dashes and once with spaces,
-- was stored (and counted on the dashboard) twice. shared.bill.account_key is the same rule.

CREATE FUNCTION account_key(number TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN upper(regexp_replace(number, '[^A-Za-z0-9]', '', 'g'));

ALTER TABLE utility_accounts ADD COLUMN account_key TEXT GENERATED ALWAYS AS (account_key(account_number)) STORED;
ALTER TABLE bills ADD COLUMN account_key TEXT GENERATED ALWAYS AS (account_key(account_number)) STORED;

-- Rows written before this migration may already collide: stop with their ids rather than
-- pick a survivor (merging accounts or bills is an operator's decision, not a migration's).
DO $$
DECLARE
    clashes TEXT;
BEGIN
    SELECT string_agg(ids, '; ') INTO clashes FROM (
        SELECT 'utility_accounts ' || string_agg(id::text, ', ' ORDER BY id) AS ids
          FROM utility_accounts GROUP BY customer_id, provider, account_key HAVING count(*) > 1
        UNION ALL
        SELECT 'bills ' || string_agg(id::text, ', ' ORDER BY id)
          FROM bills WHERE bill_period_start IS NOT NULL AND bill_period_end IS NOT NULL
         GROUP BY utility_account_id, account_key, bill_period_start, bill_period_end HAVING count(*) > 1
    ) AS c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'rows that differ only in how the account number is written: %', clashes
            USING HINT = 'merge or delete the duplicates, then restart to apply this migration';
    END IF;
END $$;

DO $$
DECLARE
    old_key TEXT;
BEGIN
    SELECT conname INTO old_key
      FROM pg_constraint
     WHERE conrelid = 'utility_accounts'::regclass AND contype = 'u'
       AND pg_get_constraintdef(oid) LIKE '%account_number%';
    IF old_key IS NOT NULL THEN
        EXECUTE format('ALTER TABLE utility_accounts DROP CONSTRAINT %I', old_key);
    END IF;
END $$;

CREATE UNIQUE INDEX utility_accounts_account_key
    ON utility_accounts (customer_id, provider, account_key) NULLS NOT DISTINCT;

DROP INDEX bills_natural_key;
CREATE UNIQUE INDEX bills_natural_key
    ON bills (utility_account_id, account_key, bill_period_start, bill_period_end) NULLS NOT DISTINCT
 WHERE bill_period_start IS NOT NULL AND bill_period_end IS NOT NULL;
