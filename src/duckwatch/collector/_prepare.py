"""Batch preparation: which role and stored column each of a batch's columns maps to, and its landing plan."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from duckwatch.collector.roles import Roles, dtype_of, guess_roles
from duckwatch.store import catalog
from duckwatch.store.landing import BatchPlan, ColumnPlan
from duckwatch.store.settings import Settings
from duckwatch.store.time_range import TimeRange
from duckwatch.store.time_range import load as load_time_range

_SEQ = itertools.count()
_ROLE_FIELDS = {"id", "timestamp", "prediction", "label", "status", "latency", "cost"}
NO_ROLES = Roles()
TIME_RANGE_TTL_S = 60.0  # a changed event-time range reaches running collectors within a minute


@dataclass
class Pending:
    """Rows and tables of one (model, stream, version, experiment) waiting to be written."""

    model: str
    stream: str
    version: str
    experiment: str
    roles: Roles
    rows: list[dict[str, Any]] = field(default_factory=list)
    tables: list[tuple[pa.Table, str | None]] = field(default_factory=list)
    since: float = 0.0


class ColumnCache:
    """This process's copy of the catalog's models and columns, and the roles declared in code."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models: dict[str, catalog.ModelInfo] = {}
        self.columns: dict[str, dict[str, catalog.ColumnInfo]] = {}
        self.declared: dict[str, Roles] = {}
        self._time_range: tuple[float, TimeRange] | None = None

    def accepted_times(self) -> TimeRange:
        """The data dir's accepted event-time range (with this process's overrides), re-read once a minute."""
        cached = self._time_range
        if cached is None or time.monotonic() - cached[0] > TIME_RANGE_TTL_S:
            cached = self._time_range = (time.monotonic(), load_time_range(self.settings))
        return cached[1]

    def model(self, model: str) -> catalog.ModelInfo:
        info = self.models.get(model)
        if info is None:
            info = catalog.ensure_model(self.settings, model, actor="sdk")
            self.models[model] = info
        return info

    def known_columns(self, model: str, names: list[str]) -> dict[str, catalog.ColumnInfo]:
        cols = self.columns.get(model)
        if cols is None or any(n not in cols for n in names):
            cols = {c.name: c for c in catalog.get_columns(self.settings, model)}
            self.columns[model] = cols
        return cols

    def prepare(
        self, item: Pending, schema: pa.Schema, key: str | None
    ) -> tuple[BatchPlan, list[str], dict[str, catalog.ColumnInfo], list[str]]:
        """Roles and stored columns of a batch's columns (new ones registered), and its landing plan."""
        info = self.model(item.model)
        names = [str(n) for n in schema.names]
        known = self.known_columns(item.model, names)
        stored = Roles(**_stored_roles(known))  # type: ignore[arg-type]
        roles = guess_roles(names, item.stream).merged(stored).merged(self.declared.get(item.model, Roles()))
        roles = roles.merged(item.roles)
        role_of = roles.role_of()
        batch_id = new_batch_id(item, key)
        wanted: list[tuple[str, str, str, str]] = []
        for i, name in enumerate(names):
            role = role_of.get(name) or (known[name].role if name in known else "feature")
            dtype = "categorical" if name in roles.categorical else dtype_of(schema.field(i).type)
            if role == "score":
                dtype = "numeric"
            wanted.append(
                (name, role, dtype, _class_label(name) if role == "score" and len(roles.scores) > 1 else "")
            )
        new_names = [w[0] for w in wanted if w[0] not in known]
        if new_names:
            known = catalog.assign_columns(self.settings, item.model, wanted)
            self.columns[item.model] = known
        # Columns declared before any data was seen take their type from the first batch.
        untyped = [(w[0], w[2]) for w in wanted if w[0] in known and not known[w[0]].dtype]
        if untyped:
            known = catalog.set_column_dtypes(self.settings, item.model, untyped)
            self.columns[item.model] = known
        plan = _plan(item, info, schema, names, known, roles, batch_id, self.accepted_times())
        return plan, names, known, new_names


def declared_dtype(role: str) -> str:
    # Only roles whose type is fixed get one now; the rest ("") are typed by the first batch, so a
    # numeric prediction declared up front is not mistaken for a category.
    return {"score": "numeric", "latency": "numeric", "cost": "numeric", "value": "numeric"}.get(role, "")


def declare_columns(settings: Settings, model: str, roles: Roles) -> None:
    """Remember declared roles: new names are registered; known ones declared ignored or categorical
    change (audited), so the job stops monitoring them, or counts them as categories, from its next tick."""
    catalog.assign_columns(
        settings, model, [(name, role, declared_dtype(role), "") for name, role in roles.role_of().items()]
    )
    known = {c.name: c for c in catalog.get_columns(settings, model)}
    for name in roles.ignore:
        if known[name].role != "ignore":
            catalog.set_column_role(settings, model, name, "ignore", actor="sdk")
    for name in roles.categorical:
        col = known.get(name)
        if col is not None and col.dtype == "numeric" and col.role not in ("score", "ignore"):
            catalog.set_column_dtype(settings, model, name, "categorical", actor="sdk")


class _HashSink(io.RawIOBase):
    """A write-only file that feeds a hash: Arrow IPC is hashed without being held in memory."""

    def __init__(self, digest: Any) -> None:
        self.digest = digest

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return len(data)


def batch_fingerprint(table: pa.Table, version: str, experiment: str, roles: dict[str, Any]) -> str:
    """sha256 of a batch's canonical content: its columns in name order, version, experiment and roles."""
    order = sorted(range(table.num_columns), key=lambda i: table.column_names[i])
    canonical = table.select(order).replace_schema_metadata(None).combine_chunks()
    digest = hashlib.sha256(json.dumps([version, experiment, roles], sort_keys=True, default=str).encode())
    with pa.ipc.new_stream(pa.PythonFile(_HashSink(digest), mode="w"), canonical.schema) as writer:
        writer.write_table(canonical)
    return digest.hexdigest()


def new_batch_id(item: Pending, key: str | None) -> str:
    """A keyed batch's id derives from its key (which names its content too); others are unique by time."""
    if key is not None:
        digest = hashlib.sha256(
            json.dumps([item.model, item.stream, item.version, item.experiment, key]).encode()
        ).hexdigest()[:32]
        return f"k{digest}"
    return f"{time.time_ns():020d}-{os.getpid()}-{next(_SEQ):06d}"


def _stored_roles(known: dict[str, catalog.ColumnInfo]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    multi = {"score": "scores", "value": "values", "segment": "segments", "sensitive": "sensitive"}
    for col in known.values():
        if col.role in _ROLE_FIELDS:
            out.setdefault(col.role, col.name)
        elif col.role in multi:
            out.setdefault(multi[col.role], ())
            out[multi[col.role]] += (col.name,)
        elif col.role == "ignore":
            out.setdefault("ignore", ())
            out["ignore"] += (col.name,)
    return out


def _class_label(name: str) -> str:
    for prefix in ("score_", "proba_", "prob_", "p_"):
        if name.lower().startswith(prefix):
            return name[len(prefix) :]
    return name


def _plan(
    item: Pending,
    info: catalog.ModelInfo,
    schema: pa.Schema,
    names: list[str],
    known: dict[str, catalog.ColumnInfo],
    roles: Roles,
    batch_id: str,
    accepted: TimeRange,
) -> BatchPlan:
    index = {name: i for i, name in enumerate(names)}
    id_index = index.get(roles.id) if roles.id else None
    ts_index = index.get(roles.timestamp) if roles.timestamp else None
    ts_kind = "none"
    if ts_index is not None:
        ts_type = schema.field(ts_index).type
        if pa.types.is_timestamp(ts_type) or pa.types.is_date(ts_type):
            ts_kind = "timestamp"
        elif pa.types.is_integer(ts_type) or pa.types.is_floating(ts_type):
            ts_kind = "epoch"
        else:
            ts_kind = "string"
    missing: list[str] = []
    if roles.id and id_index is None and item.stream in ("predictions", "outcomes"):
        missing.append(roles.id)
    required_role = {"predictions": "prediction", "outcomes": "label"}.get(item.stream)
    if required_role and getattr(roles, required_role) and getattr(roles, required_role) not in index:
        missing.append(getattr(roles, required_role))
    columns: list[ColumnPlan] = []
    for name, i in index.items():
        col = known[name]
        if i in (id_index, ts_index):
            continue
        # An ignored column is stored like any other (its rows land; it can be monitored again later):
        # only the job leaves it out of profiles, drift and quality (jobs/profiling.py).
        columns.append(
            ColumnPlan(
                index=i,
                source=name,
                col_id=col.col_id,
                dtype=col.storage_dtype,
                role=col.role,
                required=(col.role == required_role),
                unit_interval=(col.role == "score"),
            )
        )
    received_at = datetime.now(UTC)
    ts_min, ts_max = accepted.bounds(received_at)
    return BatchPlan(
        model=item.model,
        stream=item.stream,
        batch_id=batch_id,
        version=item.version,
        experiment=item.experiment,
        timezone=info.timezone,
        received_at=received_at,
        id_index=id_index,
        ts_index=ts_index,
        ts_kind=ts_kind,
        columns=tuple(columns),
        dedupe_ids=item.stream in ("predictions", "inputs") and id_index is not None,
        id_required=item.stream == "outcomes",
        missing_required=tuple(missing),
        ts_min=ts_min,
        ts_max=ts_max,
    )
