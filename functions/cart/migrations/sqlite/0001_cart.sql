-- One cart per owner; lines keep the price seen when the item was last added.
CREATE TABLE carts (
    id TEXT NOT NULL PRIMARY KEY,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('guest', 'customer')),
    owner_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (owner_kind, owner_id)
);

CREATE TABLE cart_lines (
    cart_id TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    item_type TEXT NOT NULL,
    item_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    snapshot_price INTEGER NOT NULL CHECK (snapshot_price >= 0),
    currency TEXT NOT NULL,
    -- When the snapshot was taken: a merge keeps the newer of two snapshots.
    snapshot_at INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cart_id, item_id)
);
