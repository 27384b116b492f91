-- Documents of the embedded store for document services (items and the items router).
-- One table for every collection; `doc` holds the record's JSON, `id` included.
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL CHECK (json_valid(doc)),
    PRIMARY KEY (collection, id)
) WITHOUT ROWID;

-- Stock changes already applied, by idempotency key, so a retried reservation
-- or release never moves stock twice.
CREATE TABLE IF NOT EXISTS stock_moves (
    collection TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    item_id    TEXT    NOT NULL,
    delta      INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
