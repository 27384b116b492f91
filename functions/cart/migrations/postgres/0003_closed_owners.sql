-- Owners whose account was closed. Their cart went with the account, and a
-- write that was already under way when it closed must not make a new one.
CREATE TABLE closed_owners (
    owner_kind VARCHAR(16)  NOT NULL,
    owner_id   VARCHAR(100) NOT NULL,
    closed_at  BIGINT       NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
