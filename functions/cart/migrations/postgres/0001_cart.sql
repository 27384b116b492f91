-- One cart per owner; lines keep the price seen when the item was last added.
CREATE TABLE carts (
    id         VARCHAR(40)  NOT NULL PRIMARY KEY,
    owner_kind VARCHAR(16)  NOT NULL CHECK (owner_kind IN ('guest', 'customer')),
    owner_id   VARCHAR(100) NOT NULL,
    created_at BIGINT       NOT NULL,
    updated_at BIGINT       NOT NULL,
    UNIQUE (owner_kind, owner_id)
);

CREATE TABLE cart_lines (
    cart_id        VARCHAR(40)  NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    item_type      VARCHAR(40)  NOT NULL,
    item_id        VARCHAR(100) NOT NULL,
    name           VARCHAR(200) NOT NULL,
    quantity       BIGINT       NOT NULL CHECK (quantity > 0),
    snapshot_price BIGINT       NOT NULL CHECK (snapshot_price >= 0),
    currency       VARCHAR(3)   NOT NULL,
    -- When the snapshot was taken: a merge keeps the newer of two snapshots.
    snapshot_at    BIGINT       NOT NULL,
    added_at       BIGINT       NOT NULL,
    updated_at     BIGINT       NOT NULL,
    PRIMARY KEY (cart_id, item_id)
);
