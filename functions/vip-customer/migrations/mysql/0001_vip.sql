-- Ids and keys are binary-collated so they compare exactly as on SQLite.
-- Flags are BIGINT 0/1 rather than BOOLEAN: sqlx::Any decodes MySQL's TINYINT(1) as bool but SQLite's as an integer.

CREATE TABLE vip_tiers (
    name VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    -- `rank` is a reserved word on MySQL 8.
    tier_rank BIGINT NOT NULL,
    min_lifetime_points BIGINT NOT NULL,
    discount_percent BIGINT NOT NULL,
    free_shipping BIGINT NOT NULL,
    early_access BIGINT NOT NULL,
    priority_support BIGINT NOT NULL,
    birthday_bonus_points BIGINT NOT NULL,
    points_multiplier_percent BIGINT NOT NULL,
    UNIQUE KEY vip_tiers_rank (tier_rank)
) ENGINE=InnoDB;

CREATE TABLE vip_customers (
    customer_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    email VARCHAR(254) NOT NULL,
    name VARCHAR(200) NOT NULL,
    tier VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tier_year BIGINT NOT NULL,
    lifetime_points BIGINT NOT NULL,
    points_balance BIGINT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    KEY vip_customers_enrolled (enrolled_at, customer_id),
    KEY vip_customers_tier (tier, enrolled_at, customer_id),
    CONSTRAINT vip_customers_tier_fk FOREIGN KEY (tier) REFERENCES vip_tiers (name)
) ENGINE=InnoDB;

CREATE TABLE vip_points_ledger (
    id VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    customer_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    points BIGINT NOT NULL,
    requested_points BIGINT NOT NULL,
    reason VARCHAR(200) NOT NULL,
    idempotency_key VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    balance_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY vip_ledger_key (customer_id, idempotency_key),
    KEY vip_ledger_history (customer_id, created_at, id),
    CONSTRAINT vip_ledger_customer_fk FOREIGN KEY (customer_id) REFERENCES vip_customers (customer_id)
) ENGINE=InnoDB;
