-- One row per payment attempt. The card number and CVC are never stored: only
-- the brand, the last four digits and the processor's authorization reference.
CREATE TABLE payments (
    id              VARCHAR(40)  NOT NULL PRIMARY KEY,
    order_id        VARCHAR(100) NOT NULL,
    customer_id     VARCHAR(100) NOT NULL,
    -- Whose Idempotency-Key this is: the customer, or staff paying for them.
    requested_by    VARCHAR(100) NOT NULL,
    idempotency_key VARCHAR(100) NOT NULL,
    -- SHA-256 of the request without the full card number or CVC, to tell a
    -- retry from another request under the same key.
    fingerprint     VARCHAR(64)  NOT NULL,
    method          VARCHAR(20)  NOT NULL
        CHECK (method IN ('card', 'wallet', 'cash_on_delivery', 'points')),
    state           VARCHAR(20)  NOT NULL
        CHECK (state IN ('processing', 'pending', 'authorized', 'captured', 'declined', 'failed', 'voided',
                         'partially_refunded', 'refunded')),
    amount          BIGINT       NOT NULL CHECK (amount >= 0),
    currency        VARCHAR(3)   NOT NULL,
    captured_amount BIGINT       NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
    refunded_amount BIGINT       NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    card_brand      VARCHAR(20),
    card_last4      VARCHAR(4),
    wallet_email    VARCHAR(254),
    decline_code    VARCHAR(40),
    processor_ref   VARCHAR(100),
    -- Set once the order accepted this payment (`/internal/orders/{id}/paid` answered 200).
    accepted_at     BIGINT,
    -- The final answer to the creating request, replayed for its Idempotency-Key.
    response_status BIGINT,
    response_body   TEXT,
    -- Until when one request holds the payment to change it (0: nobody).
    lease_until     BIGINT       NOT NULL DEFAULT 0,
    created_at      BIGINT       NOT NULL,
    updated_at      BIGINT       NOT NULL,
    UNIQUE (requested_by, idempotency_key)
);

CREATE INDEX payments_by_order ON payments (order_id, created_at);
CREATE INDEX payments_by_customer ON payments (customer_id, created_at);

-- Refunds and voids of a payment. A refund is `pending` from before the processor
-- is asked until it answers, so its amount stays reserved if that answer is lost.
CREATE TABLE refunds (
    id               VARCHAR(40)  NOT NULL PRIMARY KEY,
    payment_id       VARCHAR(40)  NOT NULL REFERENCES payments (id),
    kind             VARCHAR(10)  NOT NULL CHECK (kind IN ('refund', 'void')),
    status           VARCHAR(10)  NOT NULL CHECK (status IN ('pending', 'succeeded')),
    amount           BIGINT       NOT NULL CHECK (amount >= 0),
    -- As asked: null for "the rest"; a retry must ask the same.
    requested_amount BIGINT,
    reason           VARCHAR(200) NOT NULL,
    idempotency_key  VARCHAR(100) NOT NULL,
    response_body    TEXT,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    UNIQUE (payment_id, idempotency_key)
);
