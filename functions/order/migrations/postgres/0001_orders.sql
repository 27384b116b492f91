-- Orders with the lines priced at checkout. Money is BIGINT minor units; times
-- are seconds since the epoch (UTC).
CREATE TABLE orders (
    id               VARCHAR(40)  NOT NULL PRIMARY KEY,
    customer_id      VARCHAR(100) NOT NULL,
    customer_type    VARCHAR(16)  NOT NULL CHECK (customer_type IN ('registered', 'vip')),
    status           VARCHAR(20)  NOT NULL
        CHECK (status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    currency         VARCHAR(3)   NOT NULL,
    subtotal         BIGINT       NOT NULL CHECK (subtotal >= 0),
    discount         BIGINT       NOT NULL CHECK (discount >= 0),
    shipping_fee     BIGINT       NOT NULL CHECK (shipping_fee >= 0),
    points_redeemed  BIGINT       NOT NULL CHECK (points_redeemed >= 0),
    total            BIGINT       NOT NULL CHECK (total >= 0),
    delivery_option  VARCHAR(16)  NOT NULL CHECK (delivery_option IN ('standard', 'express', 'pickup')),
    -- JSON; NULL for pickup.
    shipping_address TEXT,
    payment_id       VARCHAR(100),
    payment_method   VARCHAR(20),
    shipment_id      VARCHAR(100),
    -- 1 while a cancellation or refund still owes its stock, points or payment
    -- calls: a retry finishes them.
    undo_pending     BIGINT       NOT NULL DEFAULT 0,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_by_time ON orders (created_at, id);

CREATE TABLE order_lines (
    order_id   VARCHAR(40)  NOT NULL REFERENCES orders (id),
    position   BIGINT       NOT NULL,
    item_type  VARCHAR(40)  NOT NULL,
    item_id    VARCHAR(100) NOT NULL,
    name       VARCHAR(200) NOT NULL,
    quantity   BIGINT       NOT NULL CHECK (quantity > 0),
    unit_price BIGINT       NOT NULL CHECK (unit_price >= 0),
    line_total BIGINT       NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, item_id)
);

-- One row per (customer, Idempotency-Key): the checkout's progress, so a retry
-- continues the same order (same id, same reservations) or replays its answer.
CREATE TABLE checkouts (
    customer_id     VARCHAR(100) NOT NULL,
    idempotency_key VARCHAR(100) NOT NULL,
    fingerprint     VARCHAR(64)  NOT NULL,
    order_id        VARCHAR(40)  NOT NULL,
    phase           VARCHAR(16)  NOT NULL CHECK (phase IN ('started', 'reserving', 'releasing', 'done')),
    -- The attempt working on it, until lease_until; a later one may take over.
    attempt         VARCHAR(40)  NOT NULL,
    lease_until     BIGINT       NOT NULL,
    -- JSON: the order as priced, once stock is about to be reserved for it.
    plan            TEXT,
    -- JSON: which line was refused and why, once the checkout is being undone.
    failure         TEXT,
    response_status BIGINT,
    response_body   TEXT,
    created_at      BIGINT       NOT NULL,
    updated_at      BIGINT       NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
);
