-- The audit log (portcullis::audit): security events, newest read first per user, deleted
-- past the retention by time. No foreign key to users: the record of what happened to an
-- account outlives the account until the retention ends. Ties in `at` are read in the
-- order of recording (rowid).
CREATE TABLE IF NOT EXISTS audit_events (
    id         TEXT    NOT NULL PRIMARY KEY,
    at         INTEGER NOT NULL,                   -- Unix milliseconds, UTC
    kind       TEXT    NOT NULL,
    user_id    TEXT,
    provider   TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
) STRICT;

CREATE INDEX IF NOT EXISTS audit_events_user_at ON audit_events (user_id, at);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
