CREATE TABLE accounts (
    id                TEXT    NOT NULL PRIMARY KEY,
    email             TEXT    NOT NULL UNIQUE,
    password_hash     TEXT    NOT NULL,
    role              TEXT    NOT NULL DEFAULT 'customer',
    customer_type     TEXT    NOT NULL DEFAULT 'registered',
    email_verified_at INTEGER NULL,
    name              TEXT    NULL,
    phone             TEXT    NULL,
    preferences       TEXT    NOT NULL,
    guest_id          TEXT    NULL UNIQUE,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE verification_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX verification_account ON verification_tokens (account_id);

CREATE TABLE addresses (
    id                  TEXT    NOT NULL PRIMARY KEY,
    account_id          TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    label               TEXT    NULL,
    recipient           TEXT    NOT NULL,
    line1               TEXT    NOT NULL,
    line2               TEXT    NULL,
    city                TEXT    NOT NULL,
    region              TEXT    NULL,
    postal_code         TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    phone               TEXT    NULL,
    is_default_shipping INTEGER NOT NULL DEFAULT 0,
    is_default_billing  INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX addresses_account ON addresses (account_id);

CREATE TABLE customer_history (
    id         TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    item_type  TEXT    NULL,
    item_id    TEXT    NULL,
    query      TEXT    NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX history_account ON customer_history (account_id, at);
