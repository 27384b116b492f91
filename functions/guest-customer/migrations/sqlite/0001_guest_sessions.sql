-- Times are unix seconds. Sessions are never deleted by the service: an expired
-- or converted session stays so its token keeps failing with a clear reason.
CREATE TABLE guest_sessions (
    id TEXT NOT NULL PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    converted_to TEXT NULL,
    converted_at INTEGER NULL
);

-- `seq` orders entries as they were added, which `at` (whole seconds) cannot.
CREATE TABLE guest_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES guest_sessions (id),
    kind TEXT NOT NULL,
    item_type TEXT NULL,
    item_id TEXT NULL,
    query TEXT NULL,
    at INTEGER NOT NULL
);

CREATE INDEX guest_history_by_session ON guest_history (session_id, seq);
