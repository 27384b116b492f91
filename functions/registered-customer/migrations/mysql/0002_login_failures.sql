-- Failed logins in the current window, one row each, keyed by a hash of what they
-- count against (an email as typed, or a source address): rows are only added,
-- so concurrent failures are never lost, and old rows are pruned as new ones come.
CREATE TABLE login_failures (
    id        BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    subject   CHAR(64)    NOT NULL,
    failed_at BIGINT      NOT NULL,
    KEY login_failures_subject (subject, failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii;
