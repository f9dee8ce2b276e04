-- Cut points of row-count windows (model window `rows:N`): per (model, version, experiment), consecutive
-- windows of `size` rows in arrival order, the key (_seq, _ts, _batch, _row). A row belongs to the window
-- whose first key is the greatest at or below its own (and whose last key is at or above it). The last
-- window of a (version, experiment) may be open (n < size): it fills as batches arrive, never evaluated.
CREATE TABLE row_windows (
    model VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    experiment VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,  -- earliest _ts of the rows that opened it, strictly increasing
    window_end TIMESTAMPTZ NOT NULL,    -- latest _ts of its rows + 1 microsecond (at least start + 1 us)
    size BIGINT NOT NULL,               -- rows that close it (N)
    n BIGINT NOT NULL,                  -- rows it holds
    first_seq BIGINT NOT NULL,
    first_ts TIMESTAMPTZ NOT NULL,
    first_batch VARCHAR NOT NULL,
    first_row BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_ts TIMESTAMPTZ NOT NULL,
    last_batch VARCHAR NOT NULL,
    last_row BIGINT NOT NULL,
    PRIMARY KEY (model, version, experiment, window_start)
);
