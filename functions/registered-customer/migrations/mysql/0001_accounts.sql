CREATE TABLE accounts (
    id                VARCHAR(64)  NOT NULL PRIMARY KEY,
    email             VARCHAR(254) NOT NULL,
    password_hash     VARCHAR(255) NOT NULL,
    role              VARCHAR(16)  NOT NULL DEFAULT 'customer',
    customer_type     VARCHAR(16)  NOT NULL DEFAULT 'registered',
    email_verified_at BIGINT       NULL,
    name              VARCHAR(200) NULL,
    phone             VARCHAR(40)  NULL,
    preferences       TEXT         NOT NULL,
    guest_id          VARCHAR(64)  NULL,
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    UNIQUE KEY accounts_email (email),
    UNIQUE KEY accounts_guest (guest_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE verification_tokens (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    account_id VARCHAR(64) NOT NULL,
    expires_at BIGINT      NOT NULL,
    used_at    BIGINT      NULL,
    created_at BIGINT      NOT NULL,
    KEY verification_account (account_id),
    CONSTRAINT verification_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE addresses (
    id                  VARCHAR(64)  NOT NULL PRIMARY KEY,
    account_id          VARCHAR(64)  NOT NULL,
    label               VARCHAR(50)  NULL,
    recipient           VARCHAR(200) NOT NULL,
    line1               VARCHAR(200) NOT NULL,
    line2               VARCHAR(200) NULL,
    city                VARCHAR(100) NOT NULL,
    region              VARCHAR(100) NULL,
    postal_code         VARCHAR(20)  NOT NULL,
    country             VARCHAR(2)   NOT NULL,
    phone               VARCHAR(40)  NULL,
    is_default_shipping BIGINT       NOT NULL DEFAULT 0,
    is_default_billing  BIGINT       NOT NULL DEFAULT 0,
    created_at          BIGINT       NOT NULL,
    updated_at          BIGINT       NOT NULL,
    KEY addresses_account (account_id),
    CONSTRAINT addresses_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE customer_history (
    id         VARCHAR(64)  NOT NULL PRIMARY KEY,
    account_id VARCHAR(64)  NOT NULL,
    kind       VARCHAR(20)  NOT NULL,
    item_type  VARCHAR(40)  NULL,
    item_id    VARCHAR(100) NULL,
    query      VARCHAR(200) NULL,
    at         BIGINT       NOT NULL,
    KEY history_account (account_id, at),
    CONSTRAINT history_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
