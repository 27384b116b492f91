-- Every token carries its account's token version; a password change moves it
-- on, so tokens issued before it are refused wherever the version is checked.
ALTER TABLE accounts ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

-- Refresh tokens, by the SHA-256 of the secret the customer holds. Each is used
-- once: refreshing marks it used and adds its successor, and a used one coming
-- back (a copy in someone else's hands) revokes all of the account's.
CREATE TABLE refresh_tokens (
    token_hash CHAR(64)    CHARACTER SET ascii NOT NULL PRIMARY KEY,
    account_id VARCHAR(64) NOT NULL,
    expires_at BIGINT      NOT NULL,
    used_at    BIGINT      NULL,
    created_at BIGINT      NOT NULL,
    KEY refresh_tokens_account (account_id, expires_at),
    CONSTRAINT refresh_tokens_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Closed accounts: the id and when, nothing else. Their tokens are refused, a
-- retried closure is answered again, and checks can tell "closed" from "never".
CREATE TABLE closed_accounts (
    id        VARCHAR(64) NOT NULL PRIMARY KEY,
    closed_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
