-- No-drift thresholds simulated at a window's size (resampling the reference), kept across processes:
-- a new `duckwatch run` process would otherwise resample for every column again (~60 ms a tick for
-- 26 columns), although a daily window of the usual size with the same reference gives the same value.
-- The key hashes everything the value depends on (reference bins, metric, rounded window size, draws,
-- seed, simulation and numpy versions), so a stale row can never be read for a changed reference.
CREATE TABLE IF NOT EXISTS null_thresholds (
    model VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    value DOUBLE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, key)
);
