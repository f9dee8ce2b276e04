-- job_marks: what a job stage finished in this store, keyed per stage and model. The alert stage writes
-- its hand-off token here in the same transaction as its alerts and incidents, so a job killed after
-- that commit (and before it cleared the hand-off in the warehouse) does not apply them twice.
CREATE TABLE job_marks (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at TEXT NOT NULL
);

-- The operating-system user behind each audited change, next to the actor it names (which
-- `--actor` lets anyone choose): '' for entries written before this version.
ALTER TABLE audit ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
