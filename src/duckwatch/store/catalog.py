"""Models and their column roles in the settings store (declared once, remembered)."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.store.settings import Settings, audit, utcnow

MODEL_FIELDS = (
    "display_name",
    "owner",
    "purpose",
    "task",
    "positive_label",
    "timezone",
    "window",
    "label_horizon_hours",
    "missing_label_is_negative",
    "value_matrix",
    "meta",
)
TIME_WINDOWS = ("hour", "day", "week", "month")
_ROWS_WINDOW = re.compile(r"^rows:([0-9]+)$")


@dataclass(frozen=True)
class ColumnInfo:
    """One user column of a model: its internal id, role and type."""

    name: str
    col_id: str
    role: str
    dtype: str  # how it is analysed: numeric | categorical | list | timestamp | text
    class_label: str = ""
    stored_as: str = ""  # the stored type when a user retyped the column after data landed ('' = dtype)

    @property
    def storage_dtype(self) -> str:
        """The type its values are stored as (landing and warehouse columns)."""
        return self.stored_as or self.dtype


@dataclass(frozen=True)
class ModelInfo:
    """A model's settings row."""

    model: str
    model_key: int
    display_name: str
    owner: str = ""
    purpose: str = ""
    task: str = ""
    positive_label: str = "1"
    timezone: str = "UTC"
    window: str = "day"
    label_horizon_hours: float = 720.0
    missing_label_is_negative: bool = False
    value_matrix: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


def row_window_size(window: str) -> int | None:
    """N of a row-count window ``rows:N``; None for a time window (hour, day, week, month)."""
    found = _ROWS_WINDOW.match(window.strip()) if isinstance(window, str) else None
    return int(found.group(1)) if found else None


def check_window(window: Any) -> str:
    """The window setting, normalised; raises BadInputError naming the accepted values."""
    text = window.strip().lower() if isinstance(window, str) else ""
    if text in TIME_WINDOWS:
        return text
    size = row_window_size(text)
    if size is not None and size > 0:
        return f"rows:{size}"
    raise BadInputError(
        f"window {window!r} is not valid: use hour, day, week or month (in the model's time zone), "
        "or rows:N with N a whole number of rows >= 1 (e.g. rows:1000)"
    )


def _model_from_row(row: dict[str, Any]) -> ModelInfo:
    data = dict(row)
    data["value_matrix"] = json.loads(data.get("value_matrix") or "{}")
    data["meta"] = json.loads(data.get("meta") or "{}")
    data["missing_label_is_negative"] = bool(data.get("missing_label_is_negative"))
    return ModelInfo(**data)


def get_model(settings: Settings, model: str) -> ModelInfo | None:
    """The model's settings, or None if it was never registered."""
    rows = settings.query("SELECT * FROM models WHERE model = ?", (model,))
    return _model_from_row(rows[0]) if rows else None


def list_models(settings: Settings) -> list[ModelInfo]:
    """Every registered model, by name."""
    return [_model_from_row(r) for r in settings.query("SELECT * FROM models ORDER BY model")]


def ensure_model(settings: Settings, model: str, actor: str = "collector", **fields: Any) -> ModelInfo:
    """Register ``model`` if it is new (fields apply only on creation); return its settings."""
    existing = get_model(settings, model)
    if existing is not None:
        return existing
    with settings.write() as con:
        row = con.execute("SELECT 1 FROM models WHERE model = ?", (model,)).fetchone()
        if row is None:
            key = con.execute("SELECT coalesce(max(model_key), 0) + 1 FROM models").fetchone()[0]
            values = {"display_name": model, **_encode(fields)}
            cols = ["model", "model_key", *values.keys(), "created_at", "updated_at"]
            now = utcnow()
            con.execute(
                f"INSERT INTO models ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                (model, key, *values.values(), now, now),
            )
            audit(con, actor=actor, action="model.create", target=model, after=values)
    info = get_model(settings, model)
    assert info is not None
    return info


def update_model(settings: Settings, model: str, actor: str, reason: str = "", **fields: Any) -> ModelInfo:
    """Change a model's settings (audited)."""
    unknown = set(fields) - set(MODEL_FIELDS)
    if unknown:
        raise ValueError(f"unknown model fields {sorted(unknown)}; known: {', '.join(MODEL_FIELDS)}")
    before = get_model(settings, model)
    if before is None:
        raise KeyError(f"model {model!r} is not registered")
    values = _encode(fields)
    if values:
        with settings.write() as con:
            sets = ", ".join(f"{k} = ?" for k in values)
            con.execute(
                f"UPDATE models SET {sets}, updated_at = ? WHERE model = ?",
                (*values.values(), utcnow(), model),
            )
            old = {k: getattr(before, k) for k in fields}
            audit(
                con, actor=actor, action="model.update", target=model, before=old, after=fields, reason=reason
            )
    info = get_model(settings, model)
    assert info is not None
    return info


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in MODEL_FIELDS:
            raise ValueError(f"unknown model field {key!r}; known: {', '.join(MODEL_FIELDS)}")
        if key in ("value_matrix", "meta"):
            value = json.dumps(value or {}, sort_keys=True)
        elif key == "missing_label_is_negative":
            value = int(bool(value))
        elif key == "window":
            value = check_window(value)
        out[key] = value
    return out


def get_columns(settings: Settings, model: str) -> list[ColumnInfo]:
    """The model's known columns in the order they were first seen."""
    rows = settings.query(
        "SELECT name, col_id, role, CASE WHEN analysed_as = '' THEN dtype ELSE analysed_as END AS dtype, "
        "class_label, CASE WHEN analysed_as IN ('', dtype) THEN '' ELSE dtype END AS stored_as "
        "FROM columns WHERE model = ? ORDER BY col_id",
        (model,),
    )
    return [ColumnInfo(**r) for r in rows]


def assign_columns(
    settings: Settings, model: str, wanted: list[tuple[str, str, str, str]]
) -> dict[str, ColumnInfo]:
    """Give every (name, role, dtype, class_label) an internal id; known names keep theirs."""
    known = {c.name: c for c in get_columns(settings, model)}
    if all(name in known for name, *_ in wanted):
        return known
    with settings.write() as con:
        known = {
            r["name"]: ColumnInfo(**dict(r))
            for r in con.execute(
                "SELECT name, col_id, role, dtype, class_label FROM columns WHERE model = ?", (model,)
            )
        }
        next_no = _next_col_no(con, model)
        for name, role, dtype, class_label in wanted:
            if name in known:
                continue
            col_id = f"c{next_no:04d}"
            next_no += 1
            con.execute(
                "INSERT INTO columns (model, name, col_id, role, dtype, class_label, first_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (model, name, col_id, role, dtype, class_label, utcnow()),
            )
            known[name] = ColumnInfo(name, col_id, role, dtype, class_label)
    return known


def set_column_dtypes(settings: Settings, model: str, typed: list[tuple[str, str]]) -> dict[str, ColumnInfo]:
    """Give declared-but-untyped columns their type from the first data seen; returns all columns."""
    with settings.write() as con:
        for name, dtype in typed:
            con.execute(
                "UPDATE columns SET dtype = ? WHERE model = ? AND name = ? AND dtype = ''",
                (dtype, model, name),
            )
    return {c.name: c for c in get_columns(settings, model)}


def set_column_role(settings: Settings, model: str, name: str, role: str, actor: str) -> None:
    """Change a known column's role (audited); the job recomputes the model's windows at its next tick."""
    with settings.write() as con:
        row = con.execute("SELECT role FROM columns WHERE model = ? AND name = ?", (model, name)).fetchone()
        if row is None:
            raise KeyError(f"model {model!r} has no column {name!r}")
        con.execute("UPDATE columns SET role = ? WHERE model = ? AND name = ?", (role, model, name))
        audit(con, actor=actor, action="column.role", target=f"{model}.{name}", before=row[0], after=role)


RETYPABLE = ("numeric", "categorical")


def set_column_dtype(
    settings: Settings, model: str, name: str, dtype: str, actor: str, reason: str = ""
) -> bool:
    """Analyse a known column as ``dtype`` from now on (audited); False when it already is.

    A column no data typed yet takes the type as it is. Stored values never change type: a numeric
    column read as categorical counts its values as text, a categorical one read as numeric takes its
    values as numbers (others missing). Other changes raise BadInputError saying why.
    """
    with settings.write() as con:
        row = con.execute(
            "SELECT dtype, analysed_as FROM columns WHERE model = ? AND name = ?", (model, name)
        ).fetchone()
        if row is None:
            raise KeyError(f"model {model!r} has no column {name!r}")
        stored, analysed = str(row[0]), str(row[1])
        if (analysed or stored) == dtype:
            return False
        if not stored:
            con.execute("UPDATE columns SET dtype = ? WHERE model = ? AND name = ?", (dtype, model, name))
        elif stored in RETYPABLE and dtype in RETYPABLE:
            new = "" if dtype == stored else dtype
            con.execute("UPDATE columns SET analysed_as = ? WHERE model = ? AND name = ?", (new, model, name))
        else:
            raise BadInputError(
                f"column {name!r} is stored as {stored}: only numeric and categorical columns can be "
                f"analysed as the other; send {dtype} values under a new column name instead"
            )
        audit(
            con, actor=actor, action="column.dtype", target=f"{model}.{name}", before=analysed or stored,
            after=dtype, reason=reason,
        )  # fmt: skip
    return True


def _next_col_no(con: sqlite3.Connection, model: str) -> int:
    row = con.execute("SELECT max(col_id) FROM columns WHERE model = ?", (model,)).fetchone()
    return int(row[0][1:]) + 1 if row and row[0] else 1


def record_schema_events(
    settings: Settings, model: str, stream: str, events: list[tuple[str, str, str, int]]
) -> None:
    """Upsert schema events (col, kind, detail, count): monitoring signals, never crashes."""
    if not events:
        return
    now = utcnow()
    with settings.write() as con:
        for col, kind, detail, count in events:
            con.execute(
                "INSERT INTO schema_events (model, stream, col, kind, detail, count, first_at, last_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, stream, col, kind) DO UPDATE SET "
                "count = count + excluded.count, detail = excluded.detail, last_at = excluded.last_at",
                (model, stream, col, kind, detail, count, now, now),
            )


def schema_events(settings: Settings, model: str) -> list[dict[str, Any]]:
    """Schema events recorded for a model, newest first."""
    return settings.query("SELECT * FROM schema_events WHERE model = ? ORDER BY last_at DESC", (model,))
