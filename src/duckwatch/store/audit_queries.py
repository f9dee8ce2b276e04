"""Named reads of the audit log and the accounts, for the app's History and Audit views and the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duckwatch.store.settings import Settings

__all__ = ["audit_actors", "audit_entries", "model_changes", "threshold_changes", "user_count"]


def user_count(settings: Settings) -> int:
    """How many sign-in accounts exist."""
    rows = settings.query("SELECT count(*) AS n FROM users")
    return int(rows[0]["n"]) if rows else 0


def audit_actors(settings: Settings) -> list[str]:
    """Everyone who appears in the audit log, sorted."""
    return [str(r["actor"]) for r in settings.query("SELECT DISTINCT actor FROM audit ORDER BY actor")]


def audit_entries(settings: Settings, actor: str, text: str, since: str, limit: int) -> list[dict[str, Any]]:
    """Audit entries, newest first: of ``actor`` (all if empty), with ``text`` in the action or target
    (any if empty), at or after ``since`` (ISO text; all if empty), at most ``limit``."""
    return settings.query(
        "SELECT id, at, actor, os_user, action, target, before, after, reason FROM audit "
        "WHERE (? = '' OR actor = ?) AND (? = '' OR action LIKE ? OR target LIKE ?) AND (? = '' OR at >= ?) "
        "ORDER BY id DESC LIMIT ?",
        (actor, actor, text, f"%{text}%", f"%{text}%", since, since, limit),
    )


# A model's own changes: its registration and column roles (target "model" / "model.column"), and every
# change of a threshold scoped to it. Threshold entries are targeted "threshold:<id>" and an update records
# only the changed fields, so the id is what ties them to the model: the ids of its thresholds now, plus
# those whose create/delete entry names it (a deleted threshold's history stays visible).
MODEL_CHANGES_SQL = """
WITH ids AS (
    SELECT 'threshold:' || id AS target FROM thresholds WHERE model = ?1
    UNION
    SELECT target FROM audit WHERE target LIKE 'threshold:%' AND (
        CASE WHEN json_valid(after) THEN json_extract(after, '$.model') END = ?1
        OR CASE WHEN json_valid(before) THEN json_extract(before, '$.model') END = ?1)
)
SELECT id, at, actor, action, target, before, after, reason FROM audit
WHERE target IN (SELECT target FROM ids) OR target = ?1 OR substr(target, 1, length(?1) + 1) = ?1 || '.'
ORDER BY id DESC LIMIT ?2
"""


def model_changes(settings: Settings, model: str, limit: int) -> list[dict[str, Any]]:
    """Audit entries about one model (its thresholds, registration and columns), newest first."""
    return settings.query(MODEL_CHANGES_SQL, (model, limit))


def threshold_changes(
    settings: Settings, model: str, lo: datetime | None, hi: datetime | None
) -> list[dict[str, Any]]:
    """Audit rows of threshold changes touching ``model`` (or all models, '*') in [lo, hi), oldest first."""
    sql = (
        "SELECT at, actor, action, target, before, after, reason FROM audit WHERE action LIKE 'threshold.%' "
        "AND (target IN (SELECT 'threshold:' || id FROM thresholds WHERE model IN (?, '*')) "
        "OR json_extract(CASE WHEN json_valid(after) THEN after END, '$.model') IN (?, '*') "
        "OR json_extract(CASE WHEN json_valid(before) THEN before END, '$.model') IN (?, '*'))"
    )
    params: list[Any] = [model, model, model]
    if lo is not None:
        sql += " AND at >= ?"
        params.append(lo.isoformat())
    if hi is not None:
        sql += " AND at < ?"
        params.append(hi.isoformat())
    return settings.query(sql + " ORDER BY at, id", tuple(params))
