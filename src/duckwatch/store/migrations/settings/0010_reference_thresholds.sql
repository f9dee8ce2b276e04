-- Threshold kind "reference": a window judged against where its metric lands when the model performs as
-- on its labelled reference (value ± k standard errors at the window's size), from the first window on.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same columns and ids,
-- and its AUTOINCREMENT counter is kept (a deleted threshold's id is never handed out again).
CREATE TEMP TABLE _thresholds_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'thresholds';
CREATE TABLE thresholds_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL DEFAULT '*',
    version TEXT NOT NULL DEFAULT '*',
    family TEXT NOT NULL DEFAULT '*',
    metric TEXT NOT NULL DEFAULT '*',
    col TEXT NOT NULL DEFAULT '*',
    segment TEXT NOT NULL DEFAULT '*',
    kind TEXT NOT NULL DEFAULT 'absolute' CHECK (kind IN ('absolute', 'sigma', 'relative', 'status', 'reference')),
    direction TEXT NOT NULL DEFAULT 'above' CHECK (direction IN ('above', 'below', 'both')),
    warning REAL,                 -- absolute: value; sigma, reference: k; relative: signed fraction (-0.05 = 5% drop)
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
INSERT INTO thresholds_new SELECT id, model, version, family, metric, col, segment, kind, direction, warning,
    critical, persist_n, persist_m, lookback, cooldown_hours, severity_policy, mute_until, managed_in_code,
    is_default, enabled, note, created_at, updated_at FROM thresholds;
DROP TABLE thresholds;
ALTER TABLE thresholds_new RENAME TO thresholds;
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM _thresholds_seq), 0)) WHERE name = 'thresholds';
DROP TABLE _thresholds_seq;

-- Defaults for the whole window (segment ''): the metric against its reference band, 2.75 standard
-- errors for a warning (about 1 window in 200 of a healthy model), 4 for critical, judged from the first
-- window. Segments, and models whose reference has no labels, keep the relative defaults above them.
-- They annotate and do not page: on the demo, whose production runs a few percent worse than its
-- reference, paging defaults opened 7 incidents in 60 days that flickered open and shut around the
-- line; paging needs hysteresis first (alert-trust issue). A person's reference threshold may page. A
-- default a person already edited is left to rule alone.
WITH v(family, metric, direction, policy, note) AS (VALUES
 ('performance', 'accuracy', 'below', 'annotate', 'accuracy below its reference, sized to the window'),
 ('performance', 'roc_auc', 'below', 'annotate', 'ROC AUC below its reference, sized to the window'),
 ('performance', 'pr_auc', 'below', 'annotate', 'PR AUC below its reference, sized to the window'),
 ('performance', 'f1', 'below', 'annotate', 'F1 below its reference, sized to the window'),
 ('performance', 'r2', 'below', 'annotate', 'R2 below its reference, sized to the window'),
 ('performance', 'mape', 'above', 'annotate', 'relative error (MAPE) above its reference, sized to the window'),
 ('performance', 'rmse', 'above', 'annotate', 'RMSE above its reference, sized to the window'),
 ('performance', 'mae', 'above', 'annotate', 'MAE above its reference, sized to the window'),
 ('performance', 'log_loss', 'above', 'annotate', 'log loss above its reference, sized to the window'),
 ('estimate', 'estimated_accuracy', 'below', 'annotate', 'estimated accuracy below the reference''s (before labels arrive)'),
 ('estimate', 'estimated_roc_auc', 'below', 'annotate', 'estimated ROC AUC below the reference''s (before labels arrive)'),
 ('estimate', 'estimated_precision', 'below', 'annotate', 'estimated precision below the reference''s'),
 ('estimate', 'estimated_recall', 'below', 'annotate', 'estimated recall below the reference''s'),
 ('estimate', 'estimated_f1', 'below', 'annotate', 'estimated F1 below the reference''s'))
INSERT OR IGNORE INTO thresholds (family, metric, segment, kind, direction, warning, critical, persist_n, persist_m,
    severity_policy, is_default, note)
SELECT v.family, v.metric, '', 'reference', v.direction, 2.75, 4, 1, 1, v.policy, 1, v.note FROM v
WHERE NOT EXISTS (
    SELECT 1 FROM thresholds t WHERE t.model = '*' AND t.version = '*' AND t.col = '*' AND t.segment = '*'
    AND t.family = v.family AND t.metric IN (v.metric, '*') AND t.is_default = 1 AND t.updated_at != ''
);
