-- Accounts, sessions, API clients and login throttling.
-- Portable shape shared with the SQLite schema: text UUID (v7) keys, text enums,
-- naive UTC timestamps.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    email               TEXT,
    password_hash       TEXT NOT NULL,
    -- canonical, comma-separated, sorted list of role codes
    roles               TEXT NOT NULL,
    active              BOOLEAN NOT NULL DEFAULT 1,
    password_changed_at TIMESTAMP NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP,
    client_ip   TEXT,
    user_agent  TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE api_clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    key_prefix    TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL,
    -- space-separated scope codes
    scopes        TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_by    TEXT,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP
);

-- One row per throttled key: 'user:<username>' or 'ip:<address>'.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    locked_until  TIMESTAMP
);
