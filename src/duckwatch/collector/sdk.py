"""The Python SDK: ``Collector(data_dir)`` appends predictions, outcomes and inputs durably."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch.collector.roles import Roles, dtype_of, guess_roles, roles_from_kwargs
from duckwatch.config import DataDir, resolve_data_dir
from duckwatch.convert import rows_to_arrow, to_arrow
from duckwatch.errors import BadInputError, CollectorRefusedError, StorageError
from duckwatch.names import check_label, check_model_name
from duckwatch.store import catalog
from duckwatch.store.files import read_file
from duckwatch.store.landing import (
    BatchOutcome,
    BatchPlan,
    ColumnPlan,
    LandingPool,
    land_batch,
    write_quarantine,
)
from duckwatch.store.landing_copy import BackgroundCopy
from duckwatch.store.landing_files import land_parquet_file
from duckwatch.store.settings import Settings

log = logging.getLogger("duckwatch.collector")

_SEQ = itertools.count()
_ROLE_FIELDS = {"id", "timestamp", "prediction", "label", "status", "latency", "cost"}
_NO_ROLES = Roles()


@dataclass
class CollectorStats:
    """Counters a model server can export: nothing is dropped silently."""

    accepted: int = 0
    landed: int = 0
    quarantined: int = 0
    refused: int = 0
    flush_errors: int = 0
    last_error: str = ""


@dataclass
class LogResult:
    """What happened to one call's rows (bulk calls land at once; one-row calls are buffered)."""

    accepted: int
    landed: int = 0
    quarantined: int = 0
    buffered: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    model: str
    stream: str
    version: str
    experiment: str
    roles: Roles
    rows: list[dict[str, Any]] = field(default_factory=list)
    tables: list[tuple[pa.Table, str | None]] = field(default_factory=list)
    since: float = 0.0


class Collector:
    """Append predictions, outcomes and input batches for monitoring.

    Args:
        data_dir: the duckwatch data dir (default: $DUCKWATCH_DATA_DIR or ./data).
        flush_rows: one-row calls are written once this many are buffered.
        flush_interval_s: buffered rows are written at least this often (background thread).
        max_buffer_rows: when writing keeps failing (disk full), rows beyond this are refused,
            counted in ``stats.refused`` and logged; inference is never blocked.
        strict: raise CollectorRefusedError instead of only counting refused rows.

    Rows are acknowledged (durable, counted exactly once) when ``flush()`` returns.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        flush_rows: int = 10_000,
        flush_interval_s: float = 1.0,
        max_buffer_rows: int = 1_000_000,
        strict: bool = False,
    ) -> None:
        self.data: DataDir = resolve_data_dir(data_dir).ensure()
        self.settings = Settings(self.data.settings)
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.max_buffer_rows = max_buffer_rows
        self.strict = strict
        self.stats = CollectorStats()
        self._init_process_state()
        self._closed = False
        ref = weakref.ref(self)
        os.register_at_fork(
            before=lambda: _close_idle_before_fork(ref), after_in_child=lambda: _reinit_after_fork(ref)
        )
        atexit.register(_close_quietly, ref)

    def _init_process_state(self) -> None:
        # After fork the child starts empty: rows buffered by the parent are the parent's to write.
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._pending: dict[tuple[str, str, str, str], _Pending] = {}
        self._buffered = 0
        self._models: dict[str, catalog.ModelInfo] = {}
        self._columns: dict[str, dict[str, catalog.ColumnInfo]] = {}
        self._declared: dict[str, Roles] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._valid_models: set[str] = set()
        # Reused validation connections; closed before every fork so a child never inherits one.
        self._pool = LandingPool()

    # -- public API -------------------------------------------------------------------------------
    def declare(self, model: str, **settings_and_roles: Any) -> catalog.ModelInfo:
        """Register a model and remember its column roles and settings (display_name, owner, task, ...)."""
        check_model_name(model)
        role_kwargs = {k: v for k, v in settings_and_roles.items() if k not in catalog.MODEL_FIELDS}
        fields = {k: v for k, v in settings_and_roles.items() if k in catalog.MODEL_FIELDS}
        info = catalog.ensure_model(self.settings, model, actor="sdk", **fields)
        if fields:
            changed = {k: v for k, v in fields.items() if getattr(info, k) != v}
            if changed:
                info = catalog.update_model(self.settings, model, actor="sdk", **changed)
        roles = roles_from_kwargs(**role_kwargs)
        with self._lock:
            self._declared[model] = self._declared.get(model, Roles()).merged(roles)
            self._models[model] = info
        catalog.assign_columns(
            self.settings,
            model,
            [(name, role, _declared_dtype(role), "") for name, role in roles.role_of().items()],
        )
        self._columns.pop(model, None)
        return info

    def log_predictions(
        self,
        model: str,
        data: Any,
        *,
        version: str = "",
        experiment: str = "",
        idempotency_key: str | None = None,
        **roles: Any,
    ) -> LogResult:
        """Log predictions (a dict for one row; a DataFrame, Arrow table or list of dicts for a batch)."""
        return self._log(model, "predictions", data, version, experiment, idempotency_key, roles)

    def log_outcomes(
        self, model: str, data: Any, *, idempotency_key: str | None = None, **roles: Any
    ) -> LogResult:
        """Log ground truth; rows join predictions on (model, id) whenever either arrives."""
        return self._log(model, "outcomes", data, "", "", idempotency_key, roles)

    def log_inputs(
        self, model: str, data: Any, *, version: str = "", idempotency_key: str | None = None, **roles: Any
    ) -> LogResult:
        """Log an input (feature) batch without predictions."""
        return self._log(model, "inputs", data, version, "", idempotency_key, roles)

    def log_reference(self, model: str, data: Any, *, version: str = "", **roles: Any) -> LogResult:
        """Log reference data (training or baseline: features, prediction/score and label)."""
        return self._log(model, "reference", data, version, "", None, roles)

    def log_parquet(
        self,
        model: str,
        stream: str,
        path: str | os.PathLike[str],
        *,
        version: str = "",
        experiment: str = "",
        copy: BackgroundCopy | None = None,
        **roles: Any,
    ) -> LogResult:
        """Log a whole Parquet file; when every row is good it is sealed as a byte copy, not re-encoded.

        ``copy``: the byte copy of ``path`` already started by the caller (``landing_copy.start_copy``);
        it is sealed or discarded before this returns.
        """
        try:
            return self._log_parquet(model, stream, Path(path), version, experiment, copy, roles)
        finally:
            if copy is not None:
                copy.discard()  # no-op once sealed

    def _log_parquet(
        self,
        model: str,
        stream: str,
        source: Path,
        version: str,
        experiment: str,
        copy: BackgroundCopy | None,
        roles: dict[str, Any],
    ) -> LogResult:
        self._check_process()
        if stream not in ("predictions", "outcomes", "inputs", "reference"):
            raise BadInputError(f"unknown stream {stream!r}: use predictions, outcomes, inputs or reference")
        check_model_name(model)
        version, experiment = check_label("version", version), check_label("experiment", experiment)
        item = _Pending(
            model, stream, version, experiment, roles_from_kwargs(**roles) if roles else _NO_ROLES
        )
        plan, names, known, new_names = self._prepare(item, pq.read_schema(source), None)
        with self._pool.connection() as con:
            outcome = land_parquet_file(source, plan, self.data.landing, con, copy)
        if outcome is None:  # bad rows, repeated ids or text times: validated and landed row by row
            table = read_file(source, "parquet").table
            return self._log(model, stream, table, version, experiment, None, roles)
        self.stats.accepted += outcome.landed
        self._landed(item, names, known, new_names, outcome)
        return LogResult(accepted=outcome.landed, landed=outcome.landed)

    def quarantine_lines(self, model: str, stream: str, lines: list[tuple[int, str, str]]) -> None:
        """Keep lines that could not even be parsed (malformed CSV/JSON) with their reason."""
        if not lines:
            return
        check_model_name(model)
        batch_id = _batch_id(_Pending(model, stream, "", "", Roles()), None)
        now = datetime.now(UTC)
        write_quarantine(
            [
                {
                    "_batch": batch_id,
                    "_row": no,
                    "_stream": stream,
                    "_version": "",
                    "_experiment": "",
                    "_reason": reason,
                    "_raw": raw,
                    "_received_at": now,
                }
                for no, reason, raw in lines
            ],
            self.data.landing,
            model,
            batch_id,
        )
        self.stats.quarantined += len(lines)

    def flush(self) -> None:
        """Write every buffered row durably; when it returns, those rows are acknowledged."""
        self._check_process()
        with self._flush_lock:
            with self._lock:
                work = list(self._pending.values())
                self._pending = {}
                self._buffered = 0
            failed: list[_Pending] = []
            error: Exception | None = None
            for item in work:
                try:
                    if item.rows:
                        self._land(item, rows_to_arrow(item.rows), None)
                        item.rows = []
                    while item.tables:
                        table, key = item.tables[0]
                        self._land(item, table, key)
                        item.tables.pop(0)
                except (OSError, StorageError) as exc:
                    self.stats.flush_errors += 1
                    self.stats.last_error = str(exc)
                    log.error("duckwatch: flush failed, rows kept in memory for the next try: %s", exc)
                    failed.append(item)
                    error = exc
            if failed:
                with self._lock:
                    for item in failed:
                        self._requeue(item)
        if error is not None:
            raise StorageError(
                f"could not write to {self.data.landing}: {error}; rows are kept and retried"
            ) from error

    def close(self) -> None:
        """Flush and stop the background thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if os.getpid() == self._pid:
            try:
                self.flush()
            finally:
                self._pool.close_idle()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------
    def _check_process(self) -> None:
        if os.getpid() != self._pid:  # forked without the at-fork hook (e.g. os.fork in C code)
            self._init_process_state()

    def _log(
        self,
        model: str,
        stream: str,
        data: Any,
        version: str,
        experiment: str,
        key: str | None,
        roles: dict[str, Any],
    ) -> LogResult:
        self._check_process()
        if self._closed:
            raise BadInputError("this Collector is closed; create a new one")
        if model not in self._valid_models:
            check_model_name(model)
            self._valid_models.add(model)
        if version != "" or experiment != "":  # the common unlabelled call skips the regex checks
            version = check_label("version", version)
            experiment = check_label("experiment", experiment)
        explicit = roles_from_kwargs(**roles) if roles else _NO_ROLES
        slot = (model, stream, version, experiment)
        if isinstance(data, dict) and key is None:
            with self._lock:
                if not self._admit(1):
                    return LogResult(accepted=0)
                item = self._pending.get(slot)
                if item is None:
                    item = self._pending[slot] = _Pending(
                        model, stream, version, experiment, explicit, since=time.monotonic()
                    )
                item.rows.append(data)
                self.stats.accepted += 1
                full = len(item.rows) >= self.flush_rows
            self._ensure_thread()
            if full:
                self._try_flush()
            return LogResult(accepted=1, buffered=1)
        table = to_arrow(data)
        item = _Pending(model, stream, version, experiment, explicit)
        self.stats.accepted += table.num_rows
        try:
            outcome = self._land(item, table, key)
        except (OSError, StorageError) as exc:
            self.stats.flush_errors += 1
            self.stats.last_error = str(exc)
            log.error("duckwatch: write failed, batch kept in memory for the next flush: %s", exc)
            with self._lock:
                if self._admit(table.num_rows):
                    item.tables.append((table, key))
                    self._requeue(item)
                    return LogResult(accepted=table.num_rows, buffered=table.num_rows)
            return LogResult(accepted=0)
        return LogResult(
            accepted=table.num_rows,
            landed=outcome.landed,
            quarantined=len(outcome.quarantined),
            reasons=sorted({r for _, r in outcome.quarantined})[:20],
        )

    def _admit(self, rows: int) -> bool:
        if self._buffered + rows <= self.max_buffer_rows:
            self._buffered += rows
            return True
        self.stats.refused += rows
        log.error(
            "duckwatch: collector buffer full (%d rows); refused %d rows (total refused %d). "
            "Free disk space under %s or raise max_buffer_rows.",
            self._buffered,
            rows,
            self.stats.refused,
            self.data.landing,
        )
        if self.strict:
            raise CollectorRefusedError(
                f"buffer full: {rows} rows refused; last error: {self.stats.last_error}"
            )
        return False

    def _requeue(self, item: _Pending) -> None:
        slot = (item.model, item.stream, item.version, item.experiment)
        current = self._pending.get(slot)
        if current is None:
            self._pending[slot] = item
        else:
            current.rows[:0] = item.rows
            current.tables[:0] = item.tables
        self._buffered += len(item.rows) + sum(t.num_rows for t, _ in item.tables)

    def _try_flush(self) -> None:
        with contextlib.suppress(StorageError):  # counted and logged in flush(); inference goes on
            self.flush()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            ref = weakref.ref(self)
            self._thread = threading.Thread(
                target=_autoflush, args=(ref, self._wake), daemon=True, name="duckwatch-flush"
            )
            self._thread.start()

    def _model(self, model: str) -> catalog.ModelInfo:
        info = self._models.get(model)
        if info is None:
            info = catalog.ensure_model(self.settings, model, actor="sdk")
            self._models[model] = info
        return info

    def _known_columns(self, model: str, names: list[str]) -> dict[str, catalog.ColumnInfo]:
        cols = self._columns.get(model)
        if cols is None or any(n not in cols for n in names):
            cols = {c.name: c for c in catalog.get_columns(self.settings, model)}
            self._columns[model] = cols
        return cols

    def _land(self, item: _Pending, table: pa.Table, key: str | None) -> BatchOutcome:
        plan, names, known, new_names = self._prepare(item, table.schema, key)
        with self._pool.connection() as con:
            outcome = land_batch(table, plan, self.data.landing, con=con)
        if outcome.quarantined:
            rows = table.take([i for i, _ in outcome.quarantined]).to_pylist()
            now = datetime.now(UTC)
            write_quarantine(
                [
                    {
                        "_batch": plan.batch_id,
                        "_row": i,
                        "_stream": item.stream,
                        "_version": item.version,
                        "_experiment": item.experiment,
                        "_reason": reason,
                        "_raw": json.dumps(raw, default=str, ensure_ascii=False),
                        "_received_at": now,
                        "_ts": outcome.quarantined_ts.get(i),
                    }
                    for (i, reason), raw in zip(outcome.quarantined, rows, strict=True)
                ],
                self.data.landing,
                item.model,
                plan.batch_id,
            )
        self._landed(item, names, known, new_names, outcome)
        return outcome

    def _landed(
        self,
        item: _Pending,
        names: list[str],
        known: dict[str, catalog.ColumnInfo],
        new_names: list[str],
        outcome: BatchOutcome,
    ) -> None:
        self._schema_events(item, names, known, new_names, outcome)
        self.stats.landed += outcome.landed
        self.stats.quarantined += len(outcome.quarantined)

    def _prepare(
        self, item: _Pending, schema: pa.Schema, key: str | None
    ) -> tuple[BatchPlan, list[str], dict[str, catalog.ColumnInfo], list[str]]:
        """Roles and stored columns of a batch's columns (new ones registered), and its landing plan."""
        info = self._model(item.model)
        names = [str(n) for n in schema.names]
        known = self._known_columns(item.model, names)
        stored = Roles(**_stored_roles(known))  # type: ignore[arg-type]
        roles = guess_roles(names, item.stream).merged(stored).merged(self._declared.get(item.model, Roles()))
        roles = roles.merged(item.roles)
        role_of = roles.role_of()
        batch_id = _batch_id(item, key)
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
            self._columns[item.model] = known
        # Columns declared before any data was seen take their type from the first batch.
        untyped = [(w[0], w[2]) for w in wanted if w[0] in known and not known[w[0]].dtype]
        if untyped:
            known = catalog.set_column_dtypes(self.settings, item.model, untyped)
            self._columns[item.model] = known
        return _plan(item, info, schema, names, known, roles, batch_id), names, known, new_names

    def _schema_events(
        self,
        item: _Pending,
        names: list[str],
        known: dict[str, catalog.ColumnInfo],
        new_names: list[str],
        outcome: BatchOutcome,
    ) -> None:
        events: list[tuple[str, str, str, int]] = []
        had_before = len(known) > len(new_names)
        if had_before and item.stream in ("predictions", "inputs"):
            for name in new_names:
                events.append((name, "new_column", f"column {name!r} appeared in stream {item.stream}", 1))
            present = set(names)
            for col in known.values():
                if (
                    col.role in ("feature", "segment", "sensitive")
                    and col.name not in present
                    and col.name not in new_names
                ) and item.stream == "predictions":
                    events.append(
                        (col.name, "missing_column", f"column {col.name!r} missing from a batch", 1)
                    )
        lowered: dict[str, str] = {}
        for name in names:
            if name.lower() in lowered and lowered[name.lower()] != name:
                events.append(
                    (
                        name,
                        "case_collision",
                        f"{name!r} and {lowered[name.lower()]!r} differ only in case; kept apart",
                        1,
                    )
                )
            lowered[name.lower()] = name
        for name, count in outcome.retyped.items():
            dtype = known[name].dtype if name in known else "?"
            events.append(
                (
                    name,
                    "retyped",
                    f"{count} value(s) in {name!r} could not be read as {dtype}; stored as missing",
                    count,
                )
            )
        if events:
            catalog.record_schema_events(self.settings, item.model, item.stream, events)


def _declared_dtype(role: str) -> str:
    # Only roles whose type is fixed get one now; the rest ("") are typed by the first batch, so a
    # numeric prediction declared up front is not mistaken for a category.
    return {"score": "numeric", "latency": "numeric", "cost": "numeric", "value": "numeric"}.get(role, "")


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


def _batch_id(item: _Pending, key: str | None) -> str:
    if key is not None:
        digest = hashlib.sha256(
            json.dumps([item.model, item.stream, item.version, item.experiment, key]).encode()
        ).hexdigest()[:32]
        return f"k{digest}"
    return f"{time.time_ns():020d}-{os.getpid()}-{next(_SEQ):06d}"


def _plan(
    item: _Pending,
    info: catalog.ModelInfo,
    schema: pa.Schema,
    names: list[str],
    known: dict[str, catalog.ColumnInfo],
    roles: Roles,
    batch_id: str,
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
        if i in (id_index, ts_index) or col.role == "ignore":
            continue
        columns.append(
            ColumnPlan(
                index=i,
                source=name,
                col_id=col.col_id,
                dtype=col.dtype,
                role=col.role,
                required=(col.role == required_role),
                unit_interval=(col.role == "score"),
            )
        )
    return BatchPlan(
        model=item.model,
        stream=item.stream,
        batch_id=batch_id,
        version=item.version,
        experiment=item.experiment,
        timezone=info.timezone,
        received_at=datetime.now(UTC),
        id_index=id_index,
        ts_index=ts_index,
        ts_kind=ts_kind,
        columns=tuple(columns),
        dedupe_ids=item.stream in ("predictions", "inputs") and id_index is not None,
        id_required=item.stream == "outcomes",
        missing_required=tuple(missing),
    )


def _autoflush(ref: weakref.ref[Collector], wake: threading.Event) -> None:
    while True:
        collector = ref()
        if collector is None or collector._closed:
            return
        interval = collector.flush_interval_s
        del collector
        if wake.wait(interval):
            return
        collector = ref()
        if collector is None:
            return
        if collector._pending:
            collector._try_flush()
        del collector


def _close_idle_before_fork(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None and os.getpid() == collector._pid:
        collector._pool.close_idle()


def _reinit_after_fork(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None:
        collector._init_process_state()


def _close_quietly(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None and os.getpid() == collector._pid:
        try:
            collector.close()
        except Exception as exc:  # at interpreter exit there is nobody left to raise to
            log.error("duckwatch: final flush failed: %s", exc)


__all__ = ["Collector", "CollectorStats", "LogResult"]
