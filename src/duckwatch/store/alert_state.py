"""What the job writes about alerts: open/update/auto-resolve, incidents, and the outbox."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from duckwatch.store.settings import Settings, audit

JOB = "job"
_ALERT_COLS = (
    "dedup_key",
    "model",
    "version",
    "experiment",
    "family",
    "metric",
    "col",
    "segment",
    "threshold_id",
    "policy",
    "severity",
    "suppressed",
    "value",
    "bound",
    "baseline",
    "effect",
    "since",
    "window_start",
    "window_end",
    "opened_at",
    "last_seen_at",
    "time_to_detect_s",
    "details",
)


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def open_alert_for_key(settings: Settings, dedup_key: str) -> dict[str, Any] | None:
    """The alert for ``dedup_key`` that is not resolved yet, if any."""
    rows = settings.query("SELECT * FROM alerts WHERE dedup_key = ? AND state != 'resolved'", (dedup_key,))
    return rows[0] if rows else None


def get_alert(settings: Settings, alert_id: int) -> dict[str, Any] | None:
    """One alert row as `incidents.list_alerts` gives it (details parsed), or None."""
    rows = settings.query("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    for r in rows:
        r["details"] = json.loads(r["details"] or "{}")
    return rows[0] if rows else None


def unresolved_incidents(settings: Settings, model: str) -> list[dict[str, Any]]:
    """The incidents of ``model`` that are not resolved, oldest first."""
    return settings.query(
        "SELECT * FROM incidents WHERE model = ? AND state != 'resolved' ORDER BY id", (model,)
    )


def last_notified(settings: Settings, dedup_key: str, exclude_id: int) -> str | None:
    """When another alert with this key last caused a notification (for the cool-down)."""
    rows = settings.query(
        "SELECT max(last_notified_at) AS t FROM alerts WHERE dedup_key = ? AND id != ?",
        (dedup_key, exclude_id),
    )
    return rows[0]["t"] if rows else None


def set_suppressed(settings: Settings, alert_id: int, reason: str) -> None:
    """Record why an alert is not notified right now ('' = it may notify)."""
    with settings.write() as con:
        con.execute("UPDATE alerts SET suppressed = ? WHERE id = ?", (reason, alert_id))


def insert_alert(settings: Settings, values: dict[str, Any]) -> int:
    """Open a new alert (audited as the job)."""
    row = {k: values.get(k) for k in _ALERT_COLS}
    row["details"] = json.dumps(values.get("details") or {}, sort_keys=True, default=str)
    row["time_to_detect_s"] = _seconds(str(values["opened_at"]), str(values["since"]))
    with settings.write() as con:
        cur = con.execute(
            f"INSERT INTO alerts ({', '.join(_ALERT_COLS)}) VALUES ({', '.join('?' for _ in _ALERT_COLS)})",
            tuple(row.values()),
        )
        alert_id = int(cur.lastrowid or 0)
        audit(
            con,
            actor=JOB,
            action="alert.open",
            target=f"alert:{alert_id}",
            after=row,
            reason="threshold breached",
        )
    return alert_id


def refresh_alert(settings: Settings, alert_id: int, values: dict[str, Any]) -> None:
    """The alert's metric breached again: update severity, value and latest window."""
    keys = ("severity", "value", "bound", "baseline", "effect", "window_start", "window_end", "last_seen_at")
    with settings.write() as con:
        con.execute(
            f"UPDATE alerts SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?",
            (*(values[k] for k in keys), alert_id),
        )


def auto_resolve_alert(settings: Settings, alert_id: int, now: str, note: str) -> int | None:
    """Resolve an alert whose metric is back to normal; resolve its incident when no page alert is left."""
    with settings.write() as con:
        row = con.execute("SELECT opened_at, incident_id FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        con.execute(
            "UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolve_note = ?, "
            "time_to_resolve_s = ? WHERE id = ?",
            (now, JOB, note, _seconds(now, row[0]), alert_id),
        )
        audit(
            con,
            actor=JOB,
            action="alert.auto_resolve",
            target=f"alert:{alert_id}",
            after={"note": note},
            reason="back to normal",
        )
        incident_id = row[1]
        if incident_id is None:
            return None
        left = con.execute(
            "SELECT count(*) FROM alerts WHERE incident_id = ? AND state != 'resolved' AND policy = 'page'",
            (incident_id,),
        ).fetchone()[0]
        inc = con.execute("SELECT state, opened_at FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if left or inc[0] == "resolved":
            return None
        con.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolve_note = ?, "
            "time_to_resolve_s = ? WHERE id = ?",
            (
                now,
                JOB,
                "auto-resolved: every paging alert is back to normal",
                _seconds(now, inc[1]),
                incident_id,
            ),
        )
        audit(
            con,
            actor=JOB,
            action="incident.auto_resolve",
            target=f"incident:{incident_id}",
            before={"state": inc[0]},
            after={"state": "resolved"},
            reason="back to normal",
        )
        return int(incident_id)


def create_incident(settings: Settings, values: dict[str, Any]) -> int:
    """Open an incident (audited as the job)."""
    keys = ("model", "severity", "title", "since", "span_end", "opened_at")
    with settings.write() as con:
        cur = con.execute(
            f"INSERT INTO incidents ({', '.join(keys)}, time_to_detect_s) VALUES ({', '.join('?' for _ in keys)}, ?)",
            (*(values[k] for k in keys), _seconds(values["opened_at"], values["since"])),
        )
        incident_id = int(cur.lastrowid or 0)
        audit(
            con,
            actor=JOB,
            action="incident.open",
            target=f"incident:{incident_id}",
            after=values,
            reason="alert fired",
        )
    return incident_id


def attach_alert(settings: Settings, alert_id: int, incident_id: int) -> None:
    """Put an alert into an incident."""
    with settings.write() as con:
        con.execute("UPDATE alerts SET incident_id = ? WHERE id = ?", (incident_id, alert_id))


def update_incident(settings: Settings, incident_id: int, values: dict[str, Any]) -> None:
    """Set an incident's severity, span, title or likely cause."""
    allowed = {"severity", "since", "span_end", "title", "likely_cause", "notified_severity"}
    changes = {k: v for k, v in values.items() if k in allowed}
    with settings.write() as con:
        con.execute(
            f"UPDATE incidents SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
            (*changes.values(), incident_id),
        )


def mark_notified(settings: Settings, incident_id: int, severity: str, now: str) -> None:
    """Remember that an incident was notified at ``severity`` (its paging alerts start their cool-down)."""
    with settings.write() as con:
        con.execute("UPDATE incidents SET notified_severity = ? WHERE id = ?", (severity, incident_id))
        con.execute(
            "UPDATE alerts SET last_notified_at = ? WHERE incident_id = ? AND policy = 'page' AND state != 'resolved'",
            (now, incident_id),
        )


# ---- outbox ------------------------------------------------------------------------------------


def enqueue(settings: Settings, rows: list[dict[str, Any]]) -> list[int]:
    """Add messages to the outbox (pending until a channel confirms delivery)."""
    keys = (
        "incident_id",
        "model",
        "channel_id",
        "channel_kind",
        "target",
        "config",
        "severity",
        "mode",
        "subject",
        "body",
        "payload",
        "next_attempt_at",
        "created_at",
    )
    ids = []
    with settings.write() as con:
        for row in rows:
            vals = dict(row)
            vals["config"] = json.dumps(vals.get("config") or {}, sort_keys=True)
            vals["payload"] = json.dumps(vals.get("payload") or {}, sort_keys=True, default=str)
            cur = con.execute(
                f"INSERT INTO outbox ({', '.join(keys)}) VALUES ({', '.join('?' for _ in keys)})",
                tuple(vals.get(k) for k in keys),
            )
            ids.append(int(cur.lastrowid or 0))
    return ids


def due_messages(settings: Settings, mode: str, now: str) -> list[dict[str, Any]]:
    """Pending outbox rows of ``mode`` whose next attempt is due."""
    rows = settings.query(
        "SELECT * FROM outbox WHERE state = 'pending' AND mode = ? AND next_attempt_at <= ? ORDER BY id",
        (mode, now),
    )
    for r in rows:
        r["config"] = json.loads(r["config"])
        r["payload"] = json.loads(r["payload"])
    return rows


def mark_sent(settings: Settings, ids: list[int], now: str) -> None:
    """Delivery confirmed."""
    with settings.write() as con:
        for i in ids:
            con.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                (now, i),
            )


def mark_attempt_failed(settings: Settings, ids: list[int], error: str, next_at: str, give_up: bool) -> None:
    """Record a failed attempt; after the last one the row is 'failed' for good."""
    with settings.write() as con:
        for i in ids:
            con.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, state = ? "
                "WHERE id = ?",
                (error[:2000], next_at, "failed" if give_up else "pending", i),
            )


def outbox(settings: Settings, state: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows (for the app, the CLI and tests)."""
    if state:
        return settings.query("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,))
    return settings.query("SELECT * FROM outbox ORDER BY id")
