-- What each entry did to lifetime points (earns, staff adjustments and revokes
-- only), and which redeem or earn a restore or revoke undoes, so the ledger
-- alone accounts for both the balance and the lifetime points.
ALTER TABLE vip_points_ledger ADD COLUMN lifetime_change INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vip_points_ledger ADD COLUMN reference_key TEXT;
CREATE INDEX vip_ledger_reference ON vip_points_ledger (customer_id, reference_key);
UPDATE vip_points_ledger SET lifetime_change = points WHERE kind IN ('earn', 'adjust');
