-- Failed logins in the current window, one row each, keyed by a hash of what they
-- count against (an email as typed, or a source address): rows are only added,
-- so concurrent failures are never lost, and old rows are pruned as new ones come.
CREATE TABLE login_failures (
    id        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    subject   TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, failed_at);
