"""The portfolio's one query per model, on its published file: per-window worst severity of the primary
version/experiment, the latest window's breaches (final or provisional) and the headline metric's series."""

from __future__ import annotations

from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.store.published import query

__all__ = ["SUMMARY_SQL", "summary_rows"]

# Only aggregates leave the file: per-window worst severity of the primary version/experiment, the
# latest window's breaches (final or provisional) and the headline metric's series.
SUMMARY_SQL = """
WITH pair AS (
    SELECT version, experiment FROM metric_results GROUP BY version, experiment
    ORDER BY max(window_start) DESC, count(*) DESC, version, experiment LIMIT 1
), prim AS (
    SELECT m.*, CASE
        WHEN list_contains($1, m.metric) THEN 0
        WHEN m.status IN ('warning', 'critical') AND coalesce(m.provisional, false) THEN 0
        WHEN m.status IN ('warning', 'critical') AND isfinite(m.value) AND isfinite(m.threshold) AND (
            (list_contains($5, m.metric) AND m.value < m.threshold)
            OR (list_contains($6, m.metric) AND m.value > m.threshold)) THEN 0
        WHEN m.status = 'critical' THEN 3 WHEN m.status = 'warning' THEN 2 WHEN m.status = 'unknown' THEN 1
        ELSE 0 END AS sev
    FROM metric_results AS m JOIN pair AS p
    ON m.version IS NOT DISTINCT FROM p.version AND m.experiment IS NOT DISTINCT FROM p.experiment
), ov AS (
    SELECT * FROM prim WHERE value IS NOT NULL AND (
        list_contains($2, coalesce(segment, ''))
        OR NOT EXISTS (SELECT 1 FROM prim WHERE list_contains($2, coalesce(segment, ''))))
), pick AS (
    SELECT metric FROM ov WHERE NOT list_contains($1, metric) GROUP BY metric
    ORDER BY coalesce(list_position($3, metric), 999),
        coalesce(list_position($4, first(family ORDER BY window_start, family)), 99), metric
    LIMIT 1
), out AS (
    SELECT 'window' AS kind, window_start, max(sev) AS sev, NULL AS segment, NULL AS family, NULL AS metric,
        NULL AS col, NULL AS value, NULL AS threshold, NULL AS status, NULL AS provisional
    FROM prim GROUP BY window_start
    UNION ALL
    SELECT 'breach', window_start, sev, segment, family, metric, col, value, threshold, status, provisional
    FROM prim WHERE window_start = (SELECT max(window_start) FROM prim) AND status IN ('warning', 'critical')
        AND NOT list_contains($1, metric)
    UNION ALL
    SELECT 'headline', window_start, NULL, NULL, NULL, metric, NULL, max(value), NULL, NULL, NULL
    FROM ov WHERE metric = (SELECT metric FROM pick) GROUP BY window_start, metric
)
SELECT * FROM out ORDER BY kind, window_start, family, metric, col, segment
"""


def summary_rows(data: DataDir, model: str, params: list[Any]) -> pd.DataFrame:
    """SUMMARY_SQL's rows (kind = window | breach | headline); ``params``: informational metrics,
    overall segments, preferred headline metrics, headline families, higher-is-better and
    lower-is-better metrics. Empty before anything is published."""
    return query(data, model, SUMMARY_SQL, params)
