-- Classification metrics are computed for all windows of a tick at once, with analytic intervals:
-- nothing is worth keeping between ticks any more (jobs/perf_memo.py is gone). Drop what it kept.
DELETE FROM job_state WHERE starts_with(key, 'classification:');
