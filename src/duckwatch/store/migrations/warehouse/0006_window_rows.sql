-- Rows in each window, kept when the window is computed: the volume check compares a window with the
-- previous 14 through this column instead of re-counting their raw rows every tick (1 s on a 10M-row
-- history). Windows computed before this migration take the row_count metric they published.
ALTER TABLE window_state ADD COLUMN row_count BIGINT;
UPDATE window_state SET row_count = CAST(m.value AS BIGINT)
FROM metric_results m
WHERE m.model = window_state.model AND m.version = window_state.version
  AND m.experiment = window_state.experiment AND m.window_start = window_state.window_start
  AND m.segment = '' AND m.family = 'volume' AND m.metric = 'row_count';
