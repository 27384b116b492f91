-- One shipment per order. `status` is always the last event's; `event_count`
-- is the version a new event must name, so two concurrent events cannot both
-- follow the same state.
CREATE TABLE shipments (
    id TEXT NOT NULL PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    customer_type TEXT NOT NULL CHECK (customer_type IN ('registered', 'vip')),
    total INTEGER NOT NULL CHECK (total >= 0),
    currency TEXT NOT NULL,
    carrier TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('standard', 'express', 'pickup')),
    tracking_number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    estimated_delivery TEXT NOT NULL,
    -- JSON text; null for pickup.
    shipping_address TEXT,
    event_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX shipments_by_customer ON shipments (customer_id, created_at);

CREATE TABLE shipment_events (
    shipment_id TEXT NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    location TEXT,
    note TEXT,
    -- Staff retries of one event name the same key; unique per shipment (nulls never clash).
    idempotency_key TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (shipment_id, seq),
    UNIQUE (shipment_id, idempotency_key)
);
