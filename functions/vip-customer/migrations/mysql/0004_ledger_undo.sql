-- What each entry did to lifetime points (earns, staff adjustments and revokes
-- only), and which redeem or earn a restore or revoke undoes, so the ledger
-- alone accounts for both the balance and the lifetime points.
ALTER TABLE vip_points_ledger
    ADD COLUMN lifetime_change BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN reference_key VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ADD KEY vip_ledger_reference (customer_id, reference_key);
UPDATE vip_points_ledger SET lifetime_change = points WHERE kind IN ('earn', 'adjust');
