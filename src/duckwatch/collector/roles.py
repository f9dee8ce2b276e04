"""Column roles: which user column is the id, the timestamp, the prediction, a score, a label, ..."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import pyarrow as pa

from duckwatch.errors import BadInputError

_GUESSES = {
    "id": ("id", "request_id", "prediction_id", "row_id", "event_id"),
    "timestamp": ("timestamp", "ts", "time", "event_time", "created_at", "datetime"),
    "prediction": ("prediction", "pred", "y_pred", "predicted"),
    "score": ("score", "probability", "proba", "y_score", "prob"),
    "label": ("label", "target", "y_true", "outcome", "actual"),
    "latency": ("latency", "latency_ms"),
    "status": ("status", "error"),
}


@dataclass(frozen=True)
class Roles:
    """Which columns play which part; anything unnamed is a feature. Declared once per model."""

    id: str | None = None
    timestamp: str | None = None
    prediction: str | None = None
    scores: tuple[str, ...] = ()
    label: str | None = None
    segments: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    status: str | None = None
    latency: str | None = None
    cost: str | None = None
    values: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def merged(self, other: Roles) -> Roles:
        """``other``'s explicit choices on top of this one's."""
        changes = {f.name: getattr(other, f.name) for f in fields(other) if getattr(other, f.name)}
        return replace(self, **changes)

    def role_of(self) -> dict[str, str]:
        """Map of column name -> role for every named column."""
        out: dict[str, str] = {}
        for role in ("id", "timestamp", "prediction", "label", "status", "latency", "cost"):
            name = getattr(self, role)
            if name:
                out[name] = role
        for name in self.scores:
            out[name] = "score"
        for name in self.values:
            out[name] = "value"
        for name in self.segments:
            out[name] = "segment"
        for name in self.sensitive:
            out[name] = "sensitive"
        for name in self.ignore:
            out[name] = "ignore"
        return out


def roles_from_kwargs(**kwargs: object) -> Roles:
    """Build Roles from SDK/CLI keyword arguments, accepting a single string where a tuple is expected."""
    known = {f.name for f in fields(Roles)}
    unknown = set(kwargs) - known
    if unknown:
        raise BadInputError(f"unknown role(s) {sorted(unknown)}; known roles: {', '.join(sorted(known))}")
    clean: dict[str, object] = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key in ("scores", "segments", "sensitive", "values", "categorical", "ignore"):
            clean[key] = (value,) if isinstance(value, str) else tuple(str(v) for v in value)  # type: ignore[attr-defined]
        else:
            clean[key] = str(value)
    return Roles(**clean)  # type: ignore[arg-type]


def guess_roles(columns: list[str], stream: str) -> Roles:
    """Conventional names fill roles the user did not declare (exact, case-insensitive match)."""
    lower = {c.lower(): c for c in columns}
    found: dict[str, object] = {}
    for role, candidates in _GUESSES.items():
        if stream not in ("outcomes", "reference") and role == "label":
            continue
        if stream == "outcomes" and role in ("prediction", "score"):
            continue
        for cand in candidates:
            if cand in lower:
                found["scores" if role == "score" else role] = (
                    (lower[cand],) if role == "score" else lower[cand]
                )
                break
    return Roles(**found)  # type: ignore[arg-type]


def dtype_of(arrow_type: pa.DataType) -> str:
    """The stored kind of a column from its Arrow type at first sight."""
    if pa.types.is_boolean(arrow_type):
        return "categorical"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "list"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "text"
    if pa.types.is_null(arrow_type):
        return "numeric"
    return "categorical"
