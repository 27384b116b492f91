-- Orders with the lines priced at checkout. Money is INTEGER minor units; times
-- are seconds since the epoch (UTC).
CREATE TABLE orders (
    id TEXT NOT NULL PRIMARY KEY,
    customer_id TEXT NOT NULL,
    customer_type TEXT NOT NULL CHECK (customer_type IN ('registered', 'vip')),
    status TEXT NOT NULL
        CHECK (status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    currency TEXT NOT NULL,
    subtotal INTEGER NOT NULL CHECK (subtotal >= 0),
    discount INTEGER NOT NULL CHECK (discount >= 0),
    shipping_fee INTEGER NOT NULL CHECK (shipping_fee >= 0),
    points_redeemed INTEGER NOT NULL CHECK (points_redeemed >= 0),
    total INTEGER NOT NULL CHECK (total >= 0),
    delivery_option TEXT NOT NULL CHECK (delivery_option IN ('standard', 'express', 'pickup')),
    -- JSON; NULL for pickup.
    shipping_address TEXT,
    payment_id TEXT,
    payment_method TEXT,
    shipment_id TEXT,
    -- 1 while a cancellation or refund still owes its stock, points or payment
    -- calls: a retry finishes them.
    undo_pending INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_by_time ON orders (created_at, id);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (id),
    position INTEGER NOT NULL,
    item_type TEXT NOT NULL,
    item_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price INTEGER NOT NULL CHECK (unit_price >= 0),
    line_total INTEGER NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, item_id)
);

-- One row per (customer, Idempotency-Key): the checkout's progress, so a retry
-- continues the same order (same id, same reservations) or replays its answer.
CREATE TABLE checkouts (
    customer_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    order_id TEXT NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('started', 'reserving', 'releasing', 'done')),
    -- The attempt working on it, until lease_until; a later one may take over.
    attempt TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    -- JSON: the order as priced, once stock is about to be reserved for it.
    plan TEXT,
    -- JSON: which line was refused and why, once the checkout is being undone.
    failure TEXT,
    response_status INTEGER,
    response_body TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
);
