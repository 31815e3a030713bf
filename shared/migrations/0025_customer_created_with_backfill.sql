-- Customers created under an Idempotency-Key before 0024 kept no record of their create, so a create sent again after
-- a rename was compared with the renamed row and refused (422). Their name and e-mail now stand in for it: right for
-- every customer not renamed between 0024 and this migration (PATCH came with 0024, in the same release).
UPDATE customers SET created_with = jsonb_build_object('name', name, 'email', email)
 WHERE idempotency_key IS NOT NULL AND created_with IS NULL;
