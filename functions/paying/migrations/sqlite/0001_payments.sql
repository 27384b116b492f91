-- One row per payment attempt. The card number and CVC are never stored: only
-- the brand, the last four digits and the processor's authorization reference.
CREATE TABLE payments (
    id TEXT NOT NULL PRIMARY KEY,
    order_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    -- Whose Idempotency-Key this is: the customer, or staff paying for them.
    requested_by TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request without the full card number or CVC, to tell a
    -- retry from another request under the same key.
    fingerprint TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('card', 'wallet', 'cash_on_delivery', 'points')),
    state TEXT NOT NULL CHECK (state IN ('processing', 'pending', 'authorized', 'captured', 'declined', 'failed',
                                         'voided', 'partially_refunded', 'refunded')),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    currency TEXT NOT NULL,
    captured_amount INTEGER NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
    refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    card_brand TEXT,
    card_last4 TEXT,
    wallet_email TEXT,
    decline_code TEXT,
    processor_ref TEXT,
    -- Set once the order accepted this payment (`/internal/orders/{id}/paid` answered 200).
    accepted_at INTEGER,
    -- The final answer to the creating request, replayed for its Idempotency-Key.
    response_status INTEGER,
    response_body TEXT,
    -- Until when one request holds the payment to change it (0: nobody).
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (requested_by, idempotency_key)
);

CREATE INDEX payments_by_order ON payments (order_id, created_at);
CREATE INDEX payments_by_customer ON payments (customer_id, created_at);

-- Refunds and voids of a payment. A refund is `pending` from before the processor
-- is asked until it answers, so its amount stays reserved if that answer is lost.
CREATE TABLE refunds (
    id TEXT NOT NULL PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    kind TEXT NOT NULL CHECK (kind IN ('refund', 'void')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded')),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    -- As asked: null for "the rest"; a retry must ask the same.
    requested_amount INTEGER,
    reason TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    response_body TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (payment_id, idempotency_key)
);
