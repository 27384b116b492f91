-- Unpaid orders expire: `expires_at` is when a pending order stops waiting for
-- its payment (orders already pending get the default 30 minutes), and
-- `closed_at` when an order was cancelled, expired or refunded.
--
-- SQLite cannot change a CHECK, so the orders table is rebuilt with the new
-- status; its lines are set aside meanwhile, since their foreign key would
-- refuse the old table's drop.
CREATE TABLE orders_new (
    id TEXT NOT NULL PRIMARY KEY,
    customer_id TEXT NOT NULL,
    customer_type TEXT NOT NULL CHECK (customer_type IN ('registered', 'vip')),
    status TEXT NOT NULL
        CHECK (status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', 'expired')),
    currency TEXT NOT NULL,
    subtotal INTEGER NOT NULL CHECK (subtotal >= 0),
    discount INTEGER NOT NULL CHECK (discount >= 0),
    shipping_fee INTEGER NOT NULL CHECK (shipping_fee >= 0),
    points_redeemed INTEGER NOT NULL CHECK (points_redeemed >= 0),
    total INTEGER NOT NULL CHECK (total >= 0),
    delivery_option TEXT NOT NULL CHECK (delivery_option IN ('standard', 'express', 'pickup')),
    shipping_address TEXT,
    payment_id TEXT,
    payment_method TEXT,
    shipment_id TEXT,
    undo_pending INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    closed_at INTEGER,
    -- The cart version the order was made of (see cart_checkouts).
    cart_version TEXT
);
INSERT INTO orders_new (id, customer_id, customer_type, status, currency, subtotal, discount, shipping_fee,
    points_redeemed, total, delivery_option, shipping_address, payment_id, payment_method, shipment_id,
    undo_pending, created_at, updated_at, expires_at, closed_at)
SELECT id, customer_id, customer_type, status, currency, subtotal, discount, shipping_fee, points_redeemed, total,
    delivery_option, shipping_address, payment_id, payment_method, shipment_id, undo_pending, created_at, updated_at,
    CASE WHEN status = 'pending_payment' THEN created_at + 1800 END,
    CASE WHEN status IN ('cancelled', 'refunded') THEN updated_at END
FROM orders;
CREATE TABLE order_lines_kept AS SELECT * FROM order_lines;
DROP TABLE order_lines;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
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
INSERT INTO order_lines SELECT order_id, position, item_type, item_id, name, quantity, unit_price, line_total
    FROM order_lines_kept;
DROP TABLE order_lines_kept;
CREATE INDEX orders_by_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_by_time ON orders (created_at, id);
CREATE INDEX orders_by_expiry ON orders (status, expires_at);
CREATE INDEX orders_undo_pending ON orders (undo_pending, updated_at);
CREATE INDEX checkouts_open ON checkouts (phase, created_at);

-- One order per cart version: a checkout claims the version of the cart it
-- read before it reserves anything, so a second checkout of the same cart
-- (another Idempotency-Key) is refused. A refused checkout gives its claim back.
CREATE TABLE cart_checkouts (
    customer_id TEXT NOT NULL,
    cart_version TEXT NOT NULL,
    order_id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (customer_id, cart_version)
);

-- One row per customer, locked while a checkout claims a cart version (SQLite
-- locks the whole database for it anyway; kept for the same SQL on both).
CREATE TABLE checkout_customers (
    customer_id TEXT NOT NULL PRIMARY KEY
);
