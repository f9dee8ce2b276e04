-- Accounts: server-side sign-in sessions, per (user, client) lockout, and the app's access settings.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,             -- random id the app keeps in server memory (never sent to the browser)
    token_hash TEXT UNIQUE,          -- sha256 of the 256-bit cookie token (set when the cookie is issued)
    handoff_hash TEXT UNIQUE,        -- sha256 of a one-time code the browser swaps for the cookie
    handoff_expires_at TEXT,
    user TEXT NOT NULL,
    role_at_issue TEXT NOT NULL,
    client TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_why TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user);

CREATE TABLE signin_failures (
    user TEXT NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until TEXT,
    last_at TEXT NOT NULL,
    PRIMARY KEY (user, client)
);

CREATE TABLE access_settings (
    key TEXT PRIMARY KEY,            -- anonymous_read (auto | on | off), session_seconds
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
