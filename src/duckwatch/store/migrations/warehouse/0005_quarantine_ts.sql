-- Event time of a quarantined row, when it could be read (duplicate ids are counted per window by it).
-- Rows quarantined before this migration keep NULL and are left out of per-window counts.
ALTER TABLE quarantine ADD COLUMN ts TIMESTAMPTZ;
