-- Passwords (PHC strings, argon2id) and the disabled flag, for password sign-in.
-- A password lives and dies with its user.
CREATE TABLE IF NOT EXISTS credentials (
    user_id       TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL                 -- Unix milliseconds, UTC
) STRICT;

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
