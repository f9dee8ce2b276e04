-- Alerting: thresholds (data, not code), maintenance windows, channels, alerts grouped into incidents,
-- comments, and the notification outbox. Scope columns use '*' as a wildcard; the most specific row wins.
CREATE TABLE thresholds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL DEFAULT '*',
    version TEXT NOT NULL DEFAULT '*',
    family TEXT NOT NULL DEFAULT '*',
    metric TEXT NOT NULL DEFAULT '*',
    col TEXT NOT NULL DEFAULT '*',
    segment TEXT NOT NULL DEFAULT '*',
    kind TEXT NOT NULL DEFAULT 'absolute' CHECK (kind IN ('absolute', 'sigma', 'relative', 'status')),
    direction TEXT NOT NULL DEFAULT 'above' CHECK (direction IN ('above', 'below', 'both')),
    warning REAL,                 -- absolute: value; sigma: k; relative: signed fraction (-0.05 = 5% drop)
    critical REAL,
    persist_n INTEGER NOT NULL DEFAULT 1 CHECK (persist_n >= 1),
    persist_m INTEGER NOT NULL DEFAULT 1 CHECK (persist_m >= persist_n),
    lookback INTEGER NOT NULL DEFAULT 7 CHECK (lookback >= 1),
    cooldown_hours REAL NOT NULL DEFAULT 6 CHECK (cooldown_hours >= 0),
    severity_policy TEXT NOT NULL DEFAULT 'page' CHECK (severity_policy IN ('page', 'annotate')),
    mute_until TEXT,
    managed_in_code INTEGER NOT NULL DEFAULT 0,
    is_default INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT '',
    UNIQUE (model, version, family, metric, col, segment)
);

-- Defaults for every model (symptoms page; input drift and data quality annotate an incident).
INSERT INTO thresholds (family, metric, kind, direction, warning, critical, persist_n, persist_m, severity_policy, is_default, note) VALUES
 ('performance', 'accuracy', 'relative', 'below', -0.05, -0.10, 2, 3, 'page', 1, 'accuracy drop vs recent windows'),
 ('performance', 'roc_auc', 'relative', 'below', -0.05, -0.10, 2, 3, 'page', 1, 'ROC AUC drop vs recent windows'),
 ('performance', 'pr_auc', 'relative', 'below', -0.10, -0.20, 2, 3, 'annotate', 1, 'PR AUC drop vs recent windows'),
 ('performance', 'f1', 'relative', 'below', -0.10, -0.20, 2, 3, 'annotate', 1, 'F1 drop vs recent windows'),
 ('performance', 'r2', 'relative', 'below', -0.10, -0.25, 2, 3, 'page', 1, 'R2 drop vs recent windows'),
 ('performance', 'mape', 'relative', 'above', 0.15, 0.30, 2, 3, 'page', 1, 'relative error (MAPE) rise vs recent windows'),
 ('performance', 'rmse', 'relative', 'above', 0.10, 0.25, 2, 3, 'annotate', 1, 'RMSE rise vs recent windows (scales with the target: MAPE pages)'),
 ('performance', 'mae', 'relative', 'above', 0.10, 0.25, 2, 3, 'annotate', 1, 'MAE rise vs recent windows (scales with the target: MAPE pages)'),
 ('performance', 'log_loss', 'relative', 'above', 0.10, 0.25, 2, 3, 'annotate', 1, 'log loss rise vs recent windows'),
 ('estimate', '*', 'relative', 'below', -0.05, -0.10, 2, 3, 'annotate', 1, 'estimated performance drop'),
 ('estimate', 'estimated_accuracy', 'relative', 'below', -0.05, -0.10, 2, 3, 'page', 1, 'estimated accuracy drop (before labels arrive)'),
 ('estimate', 'estimated_roc_auc', 'relative', 'below', -0.05, -0.10, 2, 3, 'page', 1, 'estimated ROC AUC drop (before labels arrive)'),
 ('kpi', '*', 'sigma', 'below', 3, 4, 2, 3, 'page', 1, 'business KPI (value, revenue) far below its usual level'),
 ('kpi', 'value_at_stake', 'absolute', 'above', NULL, NULL, 1, 1, 'annotate', 1, 'value at stake: reported with the incident, not a monitor of its own'),
 ('kpi', 'value_per_prediction', 'relative', 'below', -0.20, -0.40, 2, 3, 'page', 1, 'value per prediction well below recent windows'),
 ('output', '*', 'status', 'above', NULL, NULL, 2, 3, 'page', 1, 'output distribution moved: statistical decision sized to the window'),
 ('volume', 'row_count', 'relative', 'below', -0.50, -0.80, 1, 1, 'page', 1, 'far fewer rows than usual'),
 ('volume', 'error_share', 'absolute', 'above', 0.02, 0.10, 2, 3, 'page', 1, 'failed predictions (status column)'),
 ('volume', 'latency_p95', 'relative', 'above', 0.50, 1.00, 2, 3, 'page', 1, 'p95 latency far above recent windows'),
 ('volume', 'label_coverage_at_age', 'relative', 'below', -0.30, -0.60, 2, 3, 'page', 1, 'labels stopped arriving (coverage at equal window age)'),
 ('heuristic', '*', 'sigma', 'both', 3, 4, 2, 3, 'annotate', 1, 'quality heuristic unusual'),
 ('drift', '*', 'status', 'above', NULL, NULL, 1, 1, 'annotate', 1, 'input drift: statistical decision sized to the window'),
 ('quality', '*', 'status', 'above', NULL, NULL, 1, 1, 'annotate', 1, 'data quality: statistical decision sized to the window');

CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL DEFAULT '*',
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL DEFAULT '*',
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'log')),
    target TEXT NOT NULL,          -- URL, e-mail address, or log file name under logs/
    config TEXT NOT NULL DEFAULT '{}',  -- JSON: smtp host/port/sender, webhook format, ...
    managed_in_code INTEGER NOT NULL DEFAULT 0,
    UNIQUE (model, kind, target)
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    title TEXT NOT NULL,
    likely_cause TEXT NOT NULL DEFAULT '',
    since TEXT NOT NULL,           -- start of the first breaching window
    span_end TEXT NOT NULL,        -- end of the latest breaching window
    opened_at TEXT NOT NULL,
    acknowledged_at TEXT, acknowledged_by TEXT,
    resolved_at TEXT, resolved_by TEXT, resolve_note TEXT NOT NULL DEFAULT '',
    useful INTEGER,
    assignee TEXT NOT NULL DEFAULT '',
    notified_severity TEXT NOT NULL DEFAULT '',
    time_to_detect_s REAL, time_to_resolve_s REAL
);
CREATE INDEX incidents_model_state ON incidents (model, state);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER REFERENCES incidents(id),
    dedup_key TEXT NOT NULL,
    model TEXT NOT NULL, version TEXT NOT NULL, experiment TEXT NOT NULL,
    family TEXT NOT NULL, metric TEXT NOT NULL, col TEXT NOT NULL, segment TEXT NOT NULL,
    threshold_id INTEGER,
    policy TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    suppressed TEXT NOT NULL DEFAULT '',   -- '' | muted | maintenance | cooldown | backfill
    value REAL, bound REAL, baseline REAL, effect REAL,
    since TEXT NOT NULL, window_start TEXT NOT NULL, window_end TEXT NOT NULL,
    opened_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, last_notified_at TEXT,
    acknowledged_at TEXT, acknowledged_by TEXT,
    resolved_at TEXT, resolved_by TEXT, resolve_note TEXT NOT NULL DEFAULT '',
    useful INTEGER, assignee TEXT NOT NULL DEFAULT '',
    time_to_detect_s REAL, time_to_resolve_s REAL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX alerts_one_open_per_key ON alerts (dedup_key) WHERE state != 'resolved';
CREATE INDEX alerts_model_state ON alerts (model, state);

CREATE TABLE alert_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER,
    model TEXT NOT NULL,
    channel_id INTEGER,
    channel_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    severity TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('immediate', 'digest')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox (state, mode, next_attempt_at);
