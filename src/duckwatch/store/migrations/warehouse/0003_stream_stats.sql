-- Rows, first/last time and last arrival per model stream, version and experiment, kept up to date at
-- ingestion (a full scan of the raw history cost ~0.5 s per publish at 10M rows).
CREATE TABLE stream_stats (
    model_key INTEGER NOT NULL,
    stream VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    first_ts TIMESTAMPTZ,
    last_ts TIMESTAMPTZ,
    last_received TIMESTAMPTZ,
    PRIMARY KEY (model_key, stream, version, experiment)
);
