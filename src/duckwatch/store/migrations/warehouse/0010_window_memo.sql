-- Dependency-aware recomputation. New predictions or inputs make a window `dirty`: everything is
-- computed again. New labels (or a label horizon that passed) only make it `labels_dirty`: the
-- metrics that read labels are computed again, and the rest (duplicates, drift, data quality,
-- comparisons with earlier windows) come from `window_memo`, where the last full computation of the
-- window left them before alerting, under the digest of what they were computed from.
ALTER TABLE window_state ADD COLUMN labels_dirty BOOLEAN DEFAULT false;
UPDATE window_state SET labels_dirty = false;
ALTER TABLE window_state ADD COLUMN memo_digest VARCHAR;
CREATE TABLE window_memo (
    model VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    segment VARCHAR NOT NULL,
    family VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    col VARCHAR NOT NULL,
    value DOUBLE,
    lower DOUBLE,
    upper DOUBLE,
    exact BOOLEAN,
    method VARCHAR,
    threshold DOUBLE,
    status VARCHAR NOT NULL,
    n BIGINT,
    provisional BOOLEAN NOT NULL,
    details VARCHAR
);
