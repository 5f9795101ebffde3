-- Passwords (PHC strings, argon2id) and the disabled flag, for password sign-in.
-- A password lives and dies with its user.
CREATE TABLE IF NOT EXISTS credentials (
    user_id       text        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash text        NOT NULL,
    updated_at    timestamptz NOT NULL
);

ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled boolean NOT NULL DEFAULT false;
