-- JWT revocation moves out of `users`: a "not before" time must be recordable for any user
-- id — a credentials user that has no row here, or a user just deleted (whose outstanding
-- JWTs must stop working) — and must survive `delete_user`. No foreign key, on purpose.
CREATE TABLE IF NOT EXISTS revocations (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    not_before INTEGER NOT NULL                    -- Unix milliseconds, UTC
) STRICT;

INSERT OR REPLACE INTO revocations (user_id, not_before)
    SELECT id, not_before FROM users WHERE not_before IS NOT NULL;

ALTER TABLE users DROP COLUMN not_before;
