-- An admin key acts on every customer's data (new customers, the payload codec, the secrets
-- check), so a customer binding on one promised a limit nothing kept. Such keys are revoked
-- (create a viewer, ingest or reviewer key for that customer instead), and none can be made again.
UPDATE api_keys SET revoked_at = now() WHERE role = 'admin' AND customer_id IS NOT NULL AND revoked_at IS NULL;

ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_admin_is_unbound CHECK (role <> 'admin' OR customer_id IS NULL OR revoked_at IS NOT NULL);
