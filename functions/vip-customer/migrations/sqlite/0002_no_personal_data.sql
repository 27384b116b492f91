-- See the MySQL migration of the same name.
ALTER TABLE vip_customers DROP COLUMN email;
ALTER TABLE vip_customers DROP COLUMN name;
ALTER TABLE vip_customers ADD COLUMN closed_at INTEGER NULL;
