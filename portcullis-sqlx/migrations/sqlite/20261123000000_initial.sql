-- portcullis schema for SQLite (>= 3.37 for STRICT tables; the bundled SQLite is 3.51).
-- Every timestamp is INTEGER milliseconds since the Unix epoch, UTC.
-- Foreign keys need `PRAGMA foreign_keys = ON` on every connection (the adapter sets it).

CREATE TABLE IF NOT EXISTS users (
    id             TEXT    NOT NULL PRIMARY KEY,
    email          TEXT    UNIQUE,                 -- exact, case-sensitive (BINARY collation)
    email_verified INTEGER,
    name           TEXT,
    image          TEXT,
    fields         TEXT    NOT NULL DEFAULT '{}'
                           CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    not_before     INTEGER,                        -- JWT revocation: tokens issued earlier are refused
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS accounts (
    provider            TEXT    NOT NULL,
    provider_account_id TEXT    NOT NULL,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type                TEXT    NOT NULL,
    refresh_token       TEXT,
    access_token        TEXT,
    expires_at          INTEGER,                   -- seconds since the epoch, as OAuth sends it
    token_type          TEXT,
    scope               TEXT,
    id_token            TEXT,
    session_state       TEXT,
    PRIMARY KEY (provider, provider_account_id)
) STRICT;
CREATE INDEX IF NOT EXISTS accounts_user_id ON accounts (user_id);

CREATE TABLE IF NOT EXISTS sessions (
    key          TEXT    NOT NULL PRIMARY KEY CHECK (length(key) = 64), -- SHA-256 of the token, hex
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    user_agent   TEXT,
    ip           TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);

CREATE TABLE IF NOT EXISTS verification_tokens (
    identifier TEXT    NOT NULL,
    token_hash TEXT    NOT NULL CHECK (length(token_hash) = 64), -- sha256(token + secret), hex
    expires    INTEGER NOT NULL,
    PRIMARY KEY (identifier, token_hash)
) STRICT;
