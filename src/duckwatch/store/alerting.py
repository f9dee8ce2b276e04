"""Thresholds, maintenance windows and notification channels in the settings store (audited)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from duckwatch.errors import BadInputError, DuckwatchError
from duckwatch.store.settings import Settings, audit, utcnow
from duckwatch.store.users import require_role

__all__ = [
    "KINDS",
    "SCOPE",
    "ManagedInCodeError",
    "Threshold",
    "create_threshold",
    "delete_threshold",
    "get_threshold",
    "list_thresholds",
    "revert_threshold",
    "to_utc_iso",
    "update_threshold",
]

SCOPE = ("model", "version", "family", "metric", "col", "segment")
KINDS = ("absolute", "sigma", "relative", "status", "reference")
DIRECTIONS = ("above", "below", "both")
POLICIES = ("page", "annotate")
EDITABLE = (
    *SCOPE,
    "kind",
    "direction",
    "warning",
    "critical",
    "persist_n",
    "persist_m",
    "lookback",
    "cooldown_hours",
    "severity_policy",
    "mute_until",
    "enabled",
    "note",
)


class ManagedInCodeError(DuckwatchError, UserWarning):
    """The threshold is managed in a monitors file; edit the file, or pass force=True to override."""


@dataclass(frozen=True)
class Threshold:
    """One threshold row; scope fields use '*' as a wildcard."""

    id: int
    model: str = "*"
    version: str = "*"
    family: str = "*"
    metric: str = "*"
    col: str = "*"
    segment: str = "*"
    kind: str = "absolute"
    direction: str = "above"
    warning: float | None = None
    critical: float | None = None
    persist_n: int = 1
    persist_m: int = 1
    lookback: int = 7
    cooldown_hours: float = 6.0
    severity_policy: str = "page"
    mute_until: str | None = None
    managed_in_code: bool = False
    is_default: bool = False
    enabled: bool = True
    note: str = ""
    created_at: str = ""
    updated_at: str = ""

    def specificity(self) -> int:
        """Higher is more specific: model > version > metric > column > segment > family."""
        weights = {"model": 64, "version": 32, "metric": 16, "col": 8, "segment": 4, "family": 2}
        return sum(w for k, w in weights.items() if getattr(self, k) != "*")

    def scope(self) -> str:
        """A readable scope such as ``credit/*/performance/accuracy/*/*``."""
        return "/".join(str(getattr(self, k)) for k in SCOPE)


_FIELD_NAMES = {f.name for f in fields(Threshold)}


def _row_to_threshold(row: dict[str, Any]) -> Threshold:
    data = {k: v for k, v in dict(row).items() if k in _FIELD_NAMES}
    for key in ("managed_in_code", "is_default", "enabled"):
        data[key] = bool(data[key])
    return Threshold(**data)


def validate_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Check threshold fields; return them normalised or raise BadInputError naming the field."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise BadInputError(f"unknown threshold fields {sorted(unknown)}; known: {', '.join(EDITABLE)}")
    out = dict(values)
    for key in SCOPE:
        if key in out and (not isinstance(out[key], str) or not out[key]):
            raise BadInputError(f"threshold {key} must be a non-empty string or '*'")
    for key, allowed in (("kind", KINDS), ("direction", DIRECTIONS), ("severity_policy", POLICIES)):
        if key in out and out[key] not in allowed:
            raise BadInputError(f"threshold {key} {out[key]!r} is not one of {', '.join(allowed)}")
    for key in ("warning", "critical", "cooldown_hours"):
        if key in out and out[key] is not None:
            try:
                out[key] = float(out[key])
            except (TypeError, ValueError) as exc:
                raise BadInputError(f"threshold {key} must be a number, got {out[key]!r}") from exc
    for key in ("persist_n", "persist_m", "lookback"):
        if key in out and (not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1):
            raise BadInputError(f"threshold {key} must be a whole number >= 1, got {out[key]!r}")
    if out.get("mute_until"):
        out["mute_until"] = to_utc_iso(str(out["mute_until"]))
    return out


def _check_consistent(t: dict[str, Any]) -> None:
    if t["persist_n"] > t["persist_m"]:
        raise BadInputError(f"persistence {t['persist_n']} of {t['persist_m']}: n must not exceed m")
    if t["kind"] != "status" and t["warning"] is None and t["critical"] is None:
        raise BadInputError("a threshold needs a warning or a critical value (or kind 'status')")
    w, c = t["warning"], t["critical"]
    if w is not None and c is not None and t["direction"] != "both":
        worse = c >= w if t["direction"] == "above" else c <= w
        if not worse:
            raise BadInputError(
                f"critical {c} must be beyond warning {w} in direction {t['direction']!r}; swap them"
            )


def require_reason(reason: str) -> None:
    if not reason.strip():
        raise BadInputError("say why (reason is required for every change; it goes to the audit log)")


def list_thresholds(settings: Settings, model: str | None = None) -> list[Threshold]:
    """Thresholds applying to ``model`` (its own and the '*' defaults), or all when None."""
    if model is None:
        rows = settings.query("SELECT * FROM thresholds ORDER BY id")
    else:
        rows = settings.query("SELECT * FROM thresholds WHERE model IN (?, '*') ORDER BY id", (model,))
    return [_row_to_threshold(r) for r in rows]


def get_threshold(settings: Settings, threshold_id: int) -> Threshold:
    """One threshold by id (BadInputError if it does not exist)."""
    rows = settings.query("SELECT * FROM thresholds WHERE id = ?", (threshold_id,))
    if not rows:
        raise BadInputError(f"threshold {threshold_id} does not exist; list them with list_thresholds")
    return _row_to_threshold(rows[0])


def _insert(con: sqlite3.Connection, values: dict[str, Any], managed: bool) -> int:
    now = utcnow()
    cols = [*values.keys(), "managed_in_code", "created_at", "updated_at"]
    cur = con.execute(
        f"INSERT INTO thresholds ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        (*values.values(), int(managed), now, now),
    )
    return int(cur.lastrowid or 0)


def _full(values: dict[str, Any]) -> dict[str, Any]:
    base = {k: v for k, v in asdict(Threshold(id=0)).items() if k in EDITABLE}
    base.update(values)
    base["enabled"] = int(bool(base["enabled"]))
    return base


def create_threshold(
    settings: Settings, *, actor: str, role: str, reason: str, managed_in_code: bool = False, **values: Any
) -> Threshold:
    """Add a threshold (editors and admins; audited)."""
    require_role(role, "editor", "create thresholds")
    require_reason(reason)
    full = _full(validate_fields(values))
    _check_consistent(full)
    with settings.write() as con:
        key = tuple(full[k] for k in SCOPE)
        where = " AND ".join(f"{k} = ?" for k in SCOPE)
        if con.execute(f"SELECT id FROM thresholds WHERE {where}", key).fetchone():
            raise BadInputError(f"a threshold for scope {'/'.join(key)} exists already; update it instead")
        new_id = _insert(con, full, managed_in_code)
        audit(
            con,
            actor=actor,
            action="threshold.create",
            target=f"threshold:{new_id}",
            after=full,
            reason=reason,
        )
    return get_threshold(settings, new_id)


def update_threshold(
    settings: Settings,
    threshold_id: int,
    *,
    actor: str,
    role: str,
    reason: str,
    force: bool = False,
    **values: Any,
) -> Threshold:
    """Change a threshold; a managed-in-code one raises ManagedInCodeError unless ``force``."""
    require_role(role, "editor", "edit thresholds")
    require_reason(reason)
    changes = validate_fields(values)
    with settings.write() as con:
        row = con.execute("SELECT * FROM thresholds WHERE id = ?", (threshold_id,)).fetchone()
        if row is None:
            raise BadInputError(f"threshold {threshold_id} does not exist; list them with list_thresholds")
        before = _row_to_threshold(dict(row))
        if before.managed_in_code and not force:
            raise ManagedInCodeError(
                f"threshold {threshold_id} ({before.scope()}) is managed in a monitors file: edit the file and "
                "apply it, or confirm to override here (the next `duckwatch monitors export` writes it back)"
            )
        old = {k: getattr(before, k) for k in changes}
        merged = {k: getattr(before, k) for k in EDITABLE} | changes
        _check_consistent(merged)
        _update(con, threshold_id, changes)
        audit(
            con,
            actor=actor,
            action="threshold.update",
            target=f"threshold:{threshold_id}",
            before=old,
            after=changes,
            reason=reason,
        )
    return get_threshold(settings, threshold_id)


def _update(con: sqlite3.Connection, threshold_id: int, changes: dict[str, Any]) -> None:
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    con.execute(
        f"UPDATE thresholds SET {sets}, updated_at = ? WHERE id = ?",
        (*[int(v) if isinstance(v, bool) else v for v in changes.values()], utcnow(), threshold_id),
    )


def delete_threshold(
    settings: Settings, threshold_id: int, *, actor: str, role: str, reason: str, force: bool = False
) -> None:
    """Remove a threshold (audited; defaults may be disabled instead of deleted)."""
    require_role(role, "editor", "delete thresholds")
    require_reason(reason)
    before = get_threshold(settings, threshold_id)
    if before.managed_in_code and not force:
        raise ManagedInCodeError(
            f"threshold {threshold_id} ({before.scope()}) is managed in a monitors file: remove it there"
        )
    if before.is_default:
        raise BadInputError(f"threshold {threshold_id} is a default; disable it (enabled=False) instead")
    with settings.write() as con:
        con.execute("DELETE FROM thresholds WHERE id = ?", (threshold_id,))
        audit(
            con,
            actor=actor,
            action="threshold.delete",
            target=f"threshold:{threshold_id}",
            before=asdict(before),
            reason=reason,
        )


def revert_threshold(settings: Settings, audit_id: int, actor: str, role: str = "editor") -> Threshold | None:
    """Undo one audited threshold change (update, create or delete); the undo is audited too."""
    require_role(role, "editor", "revert threshold changes")
    rows = settings.query("SELECT * FROM audit WHERE id = ?", (audit_id,))
    if not rows or not str(rows[0]["target"]).startswith("threshold:"):
        raise BadInputError(f"audit entry {audit_id} is not a threshold change; pick one from the audit log")
    entry = rows[0]
    threshold_id = int(str(entry["target"]).split(":", 1)[1])
    before = json.loads(entry["before"]) if entry["before"] else None
    reason = f"revert audit entry {audit_id}"
    with settings.write() as con:
        if entry["action"] == "threshold.update":
            assert before is not None
            _update(con, threshold_id, validate_fields(before))
            after: Any = before
        elif entry["action"] == "threshold.create":
            con.execute("DELETE FROM thresholds WHERE id = ?", (threshold_id,))
            after = None
        elif entry["action"] == "threshold.delete":
            assert before is not None
            values = {k: v for k, v in before.items() if k in EDITABLE}
            con.execute("INSERT INTO thresholds (id) VALUES (?)", (threshold_id,))
            _update(con, threshold_id, validate_fields(values))
            con.execute(
                "UPDATE thresholds SET managed_in_code = ?, created_at = ? WHERE id = ?",
                (int(before.get("managed_in_code", False)), utcnow(), threshold_id),
            )
            after = values
        else:
            raise BadInputError(f"audit entry {audit_id} ({entry['action']}) cannot be reverted")
        audit(con, actor=actor, action="threshold.revert", target=entry["target"], after=after, reason=reason)
    remaining = settings.query("SELECT id FROM thresholds WHERE id = ?", (threshold_id,))
    return get_threshold(settings, threshold_id) if remaining else None


def to_utc_iso(text: str) -> str:
    """Normalise an ISO time to the store's UTC format (naive times are taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInputError(f"{text!r} is not an ISO date/time such as 2026-01-31T08:00:00+00:00") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def replace_model_thresholds(
    settings: Settings, model: str, items: list[dict[str, Any]], *, actor: str, role: str, reason: str
) -> list[Threshold]:
    """Make ``model``'s own thresholds exactly ``items`` (one transaction), all marked managed in code."""
    require_role(role, "editor", "apply monitors files")
    require_reason(reason)
    wanted = []
    for item in items:
        full = _full(validate_fields({**item, "model": model}))
        _check_consistent(full)
        wanted.append(full)
    with settings.write() as con:
        rows = [dict(r) for r in con.execute("SELECT * FROM thresholds WHERE model = ?", (model,))]
        current = {tuple(r[k] for k in SCOPE): _row_to_threshold(r) for r in rows}
        keep = set()
        for full in wanted:
            key = tuple(full[k] for k in SCOPE)
            keep.add(key)
            old = current.get(key)
            if old is None:
                new_id = _insert(con, full, managed=True)
                audit(con, actor=actor, action="threshold.create", target=f"threshold:{new_id}", after=full,
                      reason=reason)  # fmt: skip
                continue
            changes = {k: v for k, v in full.items() if getattr(old, k) != (bool(v) if k == "enabled" else v)}
            if changes or not old.managed_in_code:
                _update(con, old.id, changes)
                con.execute("UPDATE thresholds SET managed_in_code = 1 WHERE id = ?", (old.id,))
                audit(con, actor=actor, action="threshold.update", target=f"threshold:{old.id}",
                      before={k: getattr(old, k) for k in changes}, after=changes, reason=reason)  # fmt: skip
        for key, old in current.items():
            if key not in keep:
                con.execute("DELETE FROM thresholds WHERE id = ?", (old.id,))
                audit(con, actor=actor, action="threshold.delete", target=f"threshold:{old.id}",
                      before=asdict(old), reason=reason)  # fmt: skip
    return [t for t in list_thresholds(settings, model) if t.model == model]


def check_threshold(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a threshold's fields and their consistency; return all fields with defaults filled in."""
    full = _full(validate_fields(values))
    _check_consistent(full)
    return full
