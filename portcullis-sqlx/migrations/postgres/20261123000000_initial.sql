-- portcullis schema for PostgreSQL (>= 12). Timestamps are timestamptz (microseconds).

CREATE TABLE IF NOT EXISTS users (
    id             text        NOT NULL PRIMARY KEY,
    email          text        UNIQUE,             -- exact, case-sensitive
    email_verified timestamptz,
    name           text,
    image          text,
    fields         jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(fields) = 'object'),
    not_before     timestamptz,                    -- JWT revocation: tokens issued earlier are refused
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS accounts (
    provider            text   NOT NULL,
    provider_account_id text   NOT NULL,
    user_id             text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type                text   NOT NULL,
    refresh_token       text,
    access_token        text,
    expires_at          bigint,                    -- seconds since the epoch, as OAuth sends it
    token_type          text,
    scope               text,
    id_token            text,
    session_state       text,
    PRIMARY KEY (provider, provider_account_id)
);
CREATE INDEX IF NOT EXISTS accounts_user_id ON accounts (user_id);

CREATE TABLE IF NOT EXISTS sessions (
    key          text        NOT NULL PRIMARY KEY CHECK (length(key) = 64), -- SHA-256 of the token, hex
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires      timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    user_agent   text,
    ip           text
);
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);

CREATE TABLE IF NOT EXISTS verification_tokens (
    identifier text        NOT NULL,
    token_hash text        NOT NULL CHECK (length(token_hash) = 64), -- sha256(token + secret), hex
    expires    timestamptz NOT NULL,
    PRIMARY KEY (identifier, token_hash)
);
