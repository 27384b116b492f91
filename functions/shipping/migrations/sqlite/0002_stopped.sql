-- When the order was cancelled or refunded, its shipment is stopped: no event
-- that moves the parcel on is recorded after that, only its return.
ALTER TABLE shipments ADD COLUMN stopped_at BIGINT;
