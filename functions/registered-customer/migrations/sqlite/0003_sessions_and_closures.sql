-- See the MySQL migration of the same name.
ALTER TABLE accounts ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id, expires_at);

CREATE TABLE closed_accounts (
    id        TEXT    NOT NULL PRIMARY KEY,
    closed_at INTEGER NOT NULL
);
