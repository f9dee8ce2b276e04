-- Profile files computed elsewhere (duckwatch spark profile) and merged by `duckwatch ingest profiles`:
-- one row per file taken in, keyed by its content hash, so a file seen twice counts once. `rows` is the
-- window's row count the file added (volume), `source` names the input it was profiled from.
CREATE TABLE profile_files (
    model VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    segment VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    file_name VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, file_hash)
);
