-- A member's email and name are their account's, in the registered service;
-- keeping copies here let them go stale and outlive the account.
-- A closed account's record stays for accounting (tier, points and ledger,
-- nothing that names a person) with the time it was closed.
ALTER TABLE vip_customers DROP COLUMN email, DROP COLUMN name, ADD COLUMN closed_at BIGINT NULL;
