-- Core settings: models and their column roles, schema events, users, audit log, job heartbeat.
CREATE TABLE models (
    model TEXT PRIMARY KEY,
    model_key INTEGER NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    purpose TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',          -- binary | multiclass | regression | ranking | '' (unknown yet)
    positive_label TEXT NOT NULL DEFAULT '1',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    window TEXT NOT NULL DEFAULT 'day',     -- hour | day | week | month | rows:N
    label_horizon_hours REAL NOT NULL DEFAULT 720,
    missing_label_is_negative INTEGER NOT NULL DEFAULT 0,
    value_matrix TEXT NOT NULL DEFAULT '{}', -- JSON {"tp":..,"fp":..,"tn":..,"fn":..}
    meta TEXT NOT NULL DEFAULT '{}',         -- JSON: on-call, runbook, data sources, tags
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE columns (
    model TEXT NOT NULL REFERENCES models(model),
    name TEXT NOT NULL,        -- exactly as the user wrote it
    col_id TEXT NOT NULL,      -- internal id (c0001...), safe in SQL and case-insensitive engines
    role TEXT NOT NULL,        -- id | timestamp | feature | prediction | score | label | segment | sensitive | status | latency | cost | value | kpi
    dtype TEXT NOT NULL,       -- numeric | categorical | list | timestamp | text
    class_label TEXT NOT NULL DEFAULT '',  -- for per-class score columns
    first_seen TEXT NOT NULL,
    PRIMARY KEY (model, name),
    UNIQUE (model, col_id)
);

CREATE TABLE schema_events (
    model TEXT NOT NULL,
    stream TEXT NOT NULL,
    col TEXT NOT NULL,
    kind TEXT NOT NULL,        -- new_column | missing_column | retyped | case_collision
    detail TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (model, stream, col, kind)
);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    salt BLOB NOT NULL,
    pw_hash BLOB NOT NULL,
    kdf TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_s REAL,
    rows_ingested INTEGER NOT NULL DEFAULT 0,
    windows_computed INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL
);
