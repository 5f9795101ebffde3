-- The audit log (portcullis::audit): security events, newest read first per user, deleted
-- past the retention by time. No foreign key to users: the record of what happened to an
-- account outlives the account until the retention ends.
CREATE TABLE IF NOT EXISTS audit_events (
    id         text        NOT NULL PRIMARY KEY,
    seq        bigserial   NOT NULL,              -- the order of recording, for ties in `at`
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,
    user_id    text,
    provider   text,
    ip         text,
    user_agent text,
    detail     text
);

CREATE INDEX IF NOT EXISTS audit_events_user_at ON audit_events (user_id, at);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
