-- Unpaid orders expire: `expires_at` is when a pending order stops waiting for
-- its payment (orders already pending get the default 30 minutes), and
-- `closed_at` when an order was cancelled, expired or refunded.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', 'expired'));
ALTER TABLE orders ADD COLUMN expires_at BIGINT;
ALTER TABLE orders ADD COLUMN closed_at BIGINT;
-- The cart version the order was made of (see cart_checkouts).
ALTER TABLE orders ADD COLUMN cart_version VARCHAR(80);
UPDATE orders SET expires_at = created_at + 1800 WHERE status = 'pending_payment';
UPDATE orders SET closed_at = updated_at WHERE status IN ('cancelled', 'refunded');
CREATE INDEX orders_by_expiry ON orders (status, expires_at);
CREATE INDEX orders_undo_pending ON orders (undo_pending, updated_at);
CREATE INDEX checkouts_open ON checkouts (phase, created_at);

-- One order per cart version: a checkout claims the version of the cart it
-- read before it reserves anything, so a second checkout of the same cart
-- (another Idempotency-Key) is refused. A refused checkout gives its claim back.
CREATE TABLE cart_checkouts (
    customer_id  VARCHAR(100) NOT NULL,
    cart_version VARCHAR(80)  NOT NULL,
    order_id     VARCHAR(40)  NOT NULL UNIQUE,
    created_at   BIGINT       NOT NULL,
    PRIMARY KEY (customer_id, cart_version)
);

-- One row per customer, locked while a checkout claims a cart version, so the
-- limit on unpaid orders is counted by one checkout at a time.
CREATE TABLE checkout_customers (
    customer_id VARCHAR(100) NOT NULL PRIMARY KEY
);
