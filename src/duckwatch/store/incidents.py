"""Alerts, incidents, comments and the notification outbox in the settings store."""

from __future__ import annotations

import json
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.store.settings import Settings, audit
from duckwatch.store.users import require_role

__all__ = [
    "acknowledge",
    "alert_precision",
    "assign",
    "comment",
    "comments",
    "get_incident",
    "list_alerts",
    "list_incidents",
    "resolve",
]

_SEVERITY_RANK = {"": 0, "warning": 1, "critical": 2}


def _seconds(later: str, earlier: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


# ---- reads -------------------------------------------------------------------------------------


def _select(table: str, state: str | None, **equal: Any) -> tuple[str, tuple[Any, ...]]:
    """``SELECT *`` from incidents/alerts with equality filters and a state ('open' = not resolved)."""
    sql, params = f"SELECT * FROM {table} WHERE 1 = 1", list[Any]()
    for column, value in equal.items():
        if value is not None and value != "":
            sql += f" AND {column} = ?"
            params.append(value)
    if state == "open":
        sql += " AND state != 'resolved'"
    elif state:
        sql += " AND state = ?"
        params.append(state)
    return sql + " ORDER BY opened_at DESC, id DESC", tuple(params)


def list_incidents(
    settings: Settings, model: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """Incidents, newest first, optionally of one model and/or in one state ('open' = not resolved)."""
    return settings.query(*_select("incidents", state, model=model))


def list_alerts(
    settings: Settings, model: str | None = None, state: str | None = None, incident_id: int | None = None
) -> list[dict[str, Any]]:
    """Alerts, newest first, filtered by model, state ('open' = not resolved) and incident."""
    rows = settings.query(*_select("alerts", state, model=model, incident_id=incident_id))
    for r in rows:
        r["details"] = json.loads(r["details"] or "{}")
    return rows


def comments(settings: Settings, incident_id: int) -> list[dict[str, Any]]:
    """An incident's comments, oldest first."""
    return settings.query("SELECT * FROM alert_comments WHERE incident_id = ? ORDER BY id", (incident_id,))


def alert_precision(settings: Settings) -> list[dict[str, Any]]:
    """Per threshold (monitor): alerts judged useful / judged at all, from resolve feedback."""
    return settings.query(
        "SELECT threshold_id, model, metric, count(*) AS alerts, "
        "sum(CASE WHEN useful IS NOT NULL THEN 1 ELSE 0 END) AS judged, "
        "sum(CASE WHEN useful = 1 THEN 1 ELSE 0 END) AS useful, "
        "CAST(sum(CASE WHEN useful = 1 THEN 1 ELSE 0 END) AS REAL) "
        "  / nullif(sum(CASE WHEN useful IS NOT NULL THEN 1 ELSE 0 END), 0) AS precision "
        "FROM alerts GROUP BY threshold_id, model, metric ORDER BY model, metric"
    )


def get_incident(settings: Settings, incident_id: int) -> dict[str, Any] | None:
    """One incident row, or None."""
    rows = settings.query("SELECT * FROM incidents WHERE id = ?", (incident_id,))
    return rows[0] if rows else None


def _incident(settings: Settings, incident_id: int) -> dict[str, Any]:
    rows = settings.query("SELECT * FROM incidents WHERE id = ?", (incident_id,))
    if not rows:
        raise BadInputError(f"incident {incident_id} does not exist; list them with `duckwatch alerts`")
    return rows[0]


# ---- human actions (role-checked, audited) -------------------------------------------------------


def acknowledge(
    settings: Settings, incident_id: int, *, actor: str, role: str, now: str, note: str = ""
) -> None:
    """Mark an incident (and its open alerts) acknowledged."""
    require_role(role, "editor", "acknowledge incidents")
    before = _incident(settings, incident_id)
    if before["state"] == "resolved":
        raise BadInputError(f"incident {incident_id} is already resolved")
    with settings.write() as con:
        con.execute(
            "UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
            (now, actor, incident_id),
        )
        con.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? "
            "WHERE incident_id = ? AND state = 'open'",
            (now, actor, incident_id),
        )
        audit(
            con,
            actor=actor,
            action="incident.acknowledge",
            target=f"incident:{incident_id}",
            before={"state": before["state"]},
            after={"state": "acknowledged"},
            reason=note,
        )


def assign(
    settings: Settings, incident_id: int, assignee: str, *, actor: str, role: str, reason: str = ""
) -> None:
    """Give an incident an assignee."""
    require_role(role, "editor", "assign incidents")
    before = _incident(settings, incident_id)
    with settings.write() as con:
        con.execute("UPDATE incidents SET assignee = ? WHERE id = ?", (assignee, incident_id))
        con.execute("UPDATE alerts SET assignee = ? WHERE incident_id = ?", (assignee, incident_id))
        audit(
            con,
            actor=actor,
            action="incident.assign",
            target=f"incident:{incident_id}",
            before={"assignee": before["assignee"]},
            after={"assignee": assignee},
            reason=reason,
        )


def resolve(
    settings: Settings,
    incident_id: int,
    *,
    actor: str,
    role: str,
    now: str,
    useful: bool | None,
    note: str,
) -> None:
    """Resolve an incident by hand with feedback: was it useful (alert precision per monitor)?"""
    require_role(role, "editor", "resolve incidents")
    if not note.strip():
        raise BadInputError("add a note saying what was found or done (it goes to the audit log)")
    before = _incident(settings, incident_id)
    flag = None if useful is None else int(useful)
    with settings.write() as con:
        con.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = coalesce(resolved_at, ?), resolved_by = ?, "
            "resolve_note = ?, useful = ?, time_to_resolve_s = coalesce(time_to_resolve_s, ?) WHERE id = ?",
            (now, actor, note, flag, _seconds(now, before["opened_at"]), incident_id),
        )
        con.execute("UPDATE alerts SET useful = ? WHERE incident_id = ?", (flag, incident_id))
        for alert_id, opened_at in con.execute(
            "SELECT id, opened_at FROM alerts WHERE incident_id = ? AND state != 'resolved'", (incident_id,)
        ).fetchall():
            con.execute(
                "UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolve_note = ?, "
                "time_to_resolve_s = ? WHERE id = ?",
                (now, actor, note, _seconds(now, opened_at), alert_id),
            )
        audit(
            con,
            actor=actor,
            action="incident.resolve",
            target=f"incident:{incident_id}",
            before={"state": before["state"]},
            after={"state": "resolved", "useful": useful},
            reason=note,
        )


def comment(settings: Settings, incident_id: int, text: str, *, actor: str, role: str, now: str) -> int:
    """Add a comment to an incident."""
    require_role(role, "editor", "comment on incidents")
    if not text.strip():
        raise BadInputError("a comment must not be empty")
    _incident(settings, incident_id)
    with settings.write() as con:
        cur = con.execute(
            "INSERT INTO alert_comments (incident_id, at, author, text) VALUES (?, ?, ?, ?)",
            (incident_id, now, actor, text),
        )
        audit(
            con,
            actor=actor,
            action="incident.comment",
            target=f"incident:{incident_id}",
            after={"text": text},
            reason="comment",
        )
        return int(cur.lastrowid or 0)
