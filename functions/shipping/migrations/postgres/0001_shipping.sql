-- One shipment per order. `status` is always the last event's; `event_count`
-- is the version a new event must name, so two concurrent events cannot both
-- follow the same state.
CREATE TABLE shipments (
    id                 VARCHAR(40)  NOT NULL PRIMARY KEY,
    order_id           VARCHAR(100) NOT NULL UNIQUE,
    customer_id        VARCHAR(64)  NOT NULL,
    customer_type      VARCHAR(16)  NOT NULL CHECK (customer_type IN ('registered', 'vip')),
    total              BIGINT       NOT NULL CHECK (total >= 0),
    currency           VARCHAR(3)   NOT NULL,
    carrier            VARCHAR(40)  NOT NULL,
    method             VARCHAR(16)  NOT NULL CHECK (method IN ('standard', 'express', 'pickup')),
    tracking_number    VARCHAR(40)  NOT NULL UNIQUE,
    status             VARCHAR(20)  NOT NULL,
    estimated_delivery VARCHAR(10)  NOT NULL,
    -- JSON text; null for pickup.
    shipping_address   TEXT,
    event_count        BIGINT       NOT NULL,
    created_at         BIGINT       NOT NULL,
    updated_at         BIGINT       NOT NULL
);

CREATE INDEX shipments_by_customer ON shipments (customer_id, created_at);

CREATE TABLE shipment_events (
    shipment_id     VARCHAR(40)  NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    seq             BIGINT       NOT NULL,
    status          VARCHAR(20)  NOT NULL,
    location        VARCHAR(100),
    note            VARCHAR(500),
    -- Staff retries of one event name the same key; unique per shipment (nulls never clash).
    idempotency_key VARCHAR(100),
    at              BIGINT       NOT NULL,
    PRIMARY KEY (shipment_id, seq),
    UNIQUE (shipment_id, idempotency_key)
);
