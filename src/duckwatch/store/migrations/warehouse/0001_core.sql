-- Warehouse core: ingestion ledger, quarantine, windows, profiles, reference profiles, metric results.
CREATE TABLE ingested_batches (
    model VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    rows_in BIGINT NOT NULL,
    rows_new BIGINT NOT NULL,
    rows_dup BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, stream, batch_id)
);
CREATE TABLE quarantine (
    model VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    row_no BIGINT NOT NULL,
    version VARCHAR,
    experiment VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    received_at TIMESTAMPTZ
);
CREATE TABLE window_state (
    model VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    dirty BOOLEAN NOT NULL,
    dirty_since TIMESTAMPTZ,
    computed_at TIMESTAMPTZ,
    PRIMARY KEY (model, version, experiment, window_start)
);
CREATE TABLE profiles (
    model VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    segment VARCHAR NOT NULL,
    col_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    profile VARCHAR NOT NULL,
    PRIMARY KEY (model, version, experiment, window_start, segment, col_id)
);
CREATE TABLE reference_profiles (
    model VARCHAR NOT NULL,
    col_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    binning VARCHAR NOT NULL,
    profile VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, col_id)
);
CREATE TABLE metric_results (
    model VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
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
    provisional BOOLEAN NOT NULL DEFAULT false,
    details VARCHAR,
    computed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE job_state (key VARCHAR PRIMARY KEY, value VARCHAR);
