-- Large byte-copied batches stay Parquet files ("parts") behind each raw view instead of being copied in.
CREATE TABLE raw_parts (
    model_key INTEGER NOT NULL,
    stream VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    file VARCHAR NOT NULL,          -- relative to the data dir
    plan VARCHAR NOT NULL,          -- the landing read plan (source columns + projection), JSON; null: sealed row by row
    columns VARCHAR[] NOT NULL,     -- the raw-table columns this part provides
    version VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    PRIMARY KEY (model_key, stream, batch_id)
);
