-- Flags are INTEGER 0/1, as on MySQL (see the MySQL migration).

CREATE TABLE vip_tiers (
    name TEXT NOT NULL PRIMARY KEY,
    tier_rank INTEGER NOT NULL UNIQUE,
    min_lifetime_points INTEGER NOT NULL,
    discount_percent INTEGER NOT NULL,
    free_shipping INTEGER NOT NULL,
    early_access INTEGER NOT NULL,
    priority_support INTEGER NOT NULL,
    birthday_bonus_points INTEGER NOT NULL,
    points_multiplier_percent INTEGER NOT NULL
);

CREATE TABLE vip_customers (
    customer_id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    tier TEXT NOT NULL REFERENCES vip_tiers (name),
    tier_year INTEGER NOT NULL,
    lifetime_points INTEGER NOT NULL,
    points_balance INTEGER NOT NULL,
    enrolled_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX vip_customers_enrolled ON vip_customers (enrolled_at, customer_id);
CREATE INDEX vip_customers_tier ON vip_customers (tier, enrolled_at, customer_id);

CREATE TABLE vip_points_ledger (
    id TEXT NOT NULL PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES vip_customers (customer_id),
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    requested_points INTEGER NOT NULL,
    reason TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    balance_after INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX vip_ledger_history ON vip_points_ledger (customer_id, created_at, id);
