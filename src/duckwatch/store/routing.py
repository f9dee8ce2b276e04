"""Where alerts go and when they stay quiet: notification channels and maintenance windows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.store.alerting import require_reason, to_utc_iso
from duckwatch.store.settings import Settings, audit, utcnow
from duckwatch.store.users import require_role

__all__ = ["Channel", "add_maintenance", "in_maintenance", "list_channels", "set_channels"]


def add_maintenance(
    settings: Settings, *, model: str, start_at: str, end_at: str, actor: str, role: str, reason: str
) -> int:
    """Declare a maintenance window (ISO times, UTC) during which alerts are recorded but not sent."""
    require_role(role, "editor", "declare maintenance windows")
    require_reason(reason)
    start_at, end_at = to_utc_iso(start_at), to_utc_iso(end_at)
    if end_at <= start_at:
        raise BadInputError(f"maintenance end {end_at} must be after start {start_at}")
    with settings.write() as con:
        cur = con.execute(
            "INSERT INTO maintenance_windows (model, start_at, end_at, reason, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (model, start_at, end_at, reason, actor, utcnow()),
        )
        new_id = int(cur.lastrowid or 0)
        audit(
            con,
            actor=actor,
            action="maintenance.add",
            target=f"maintenance:{new_id}",
            after={"model": model, "start_at": start_at, "end_at": end_at},
            reason=reason,
        )
    return new_id


def in_maintenance(settings: Settings, model: str, start_at: str, end_at: str) -> bool:
    """True if a maintenance window of ``model`` (or '*') overlaps [start_at, end_at]."""
    rows = settings.query(
        "SELECT 1 FROM maintenance_windows WHERE model IN (?, '*') AND start_at <= ? AND end_at >= ? LIMIT 1",
        (model, end_at, start_at),
    )
    return bool(rows)


@dataclass(frozen=True)
class Channel:
    """Where a model's notifications go."""

    id: int
    model: str
    kind: str
    target: str
    config: dict[str, Any]
    managed_in_code: bool = False


def list_channels(settings: Settings, model: str | None = None) -> list[Channel]:
    """The model's own channels, else the '*' channels; all channels when model is None."""
    rows = settings.query("SELECT * FROM channels ORDER BY id")
    chans = [
        Channel(
            r["id"], r["model"], r["kind"], r["target"], json.loads(r["config"]), bool(r["managed_in_code"])
        )
        for r in rows
    ]
    if model is None:
        return chans
    own = [c for c in chans if c.model == model]
    return own or [c for c in chans if c.model == "*"]


def set_channels(
    settings: Settings,
    model: str,
    channels: list[dict[str, Any]],
    *,
    actor: str,
    role: str,
    reason: str,
    managed_in_code: bool = False,
) -> list[Channel]:
    """Replace the channels of ``model`` ('*' = every model without its own) with ``channels``."""
    require_role(role, "editor", "change notification channels")
    require_reason(reason)
    for ch in channels:
        if ch.get("kind") not in ("webhook", "email", "log") or not ch.get("target"):
            raise BadInputError(f"channel {ch!r} needs kind webhook|email|log and a target")
    with settings.write() as con:
        before = [
            dict(r)
            for r in con.execute("SELECT kind, target, config FROM channels WHERE model = ?", (model,))
        ]
        con.execute("DELETE FROM channels WHERE model = ?", (model,))
        for ch in channels:
            con.execute(
                "INSERT INTO channels (model, kind, target, config, managed_in_code) VALUES (?, ?, ?, ?, ?)",
                (
                    model,
                    ch["kind"],
                    ch["target"],
                    json.dumps(ch.get("config") or {}, sort_keys=True),
                    int(managed_in_code),
                ),
            )
        audit(
            con,
            actor=actor,
            action="channels.set",
            target=f"channels:{model}",
            before=before,
            after=channels,
            reason=reason,
        )
    return list_channels(settings, model)
