"""The Python SDK: ``Collector(data_dir)`` appends predictions, outcomes and inputs durably."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pyarrow as pa

from duckwatch.collector._keys import log_keyed
from duckwatch.collector._lifecycle import autoflush, close_idle_before_fork, close_quietly, reinit_after_fork
from duckwatch.collector._outcome import quarantine_lines, quarantine_rows, record_schema_events
from duckwatch.collector._prepare import NO_ROLES, ColumnCache, Pending, declare_columns
from duckwatch.collector.results import CollectorStats, LogResult
from duckwatch.collector.roles import Roles, roles_from_kwargs
from duckwatch.config import DataDir, resolve_data_dir
from duckwatch.convert import rows_to_arrow, to_arrow
from duckwatch.errors import BadInputError, CollectorRefusedError, StorageError
from duckwatch.names import check_label, check_model_name
from duckwatch.store import catalog, duck
from duckwatch.store.files import parquet_schema, read_file
from duckwatch.store.idempotency import KeyLedger
from duckwatch.store.landing import BatchOutcome, LandingPool, land_batch, sweep_temp_files
from duckwatch.store.landing_copy import BackgroundCopy
from duckwatch.store.landing_files import land_parquet_file
from duckwatch.store.settings import Settings

log = logging.getLogger("duckwatch.collector")


class Collector:
    """Append predictions, outcomes and input batches for monitoring.

    Args:
        data_dir: the duckwatch data dir (default: $DUCKWATCH_DATA_DIR or ./data).
        flush_rows: one-row calls are written once this many are buffered.
        flush_interval_s: buffered rows are written at least this often (background thread).
        max_buffer_rows: when writing keeps failing (disk full), rows beyond this are refused,
            counted in ``stats.refused`` and logged; inference is never blocked.
        strict: raise CollectorRefusedError instead of only counting refused rows.
        idempotency_scope: keys passed as ``idempotency_key`` are remembered per (scope, model,
            stream); collectors of different clients use different scopes.
        idempotency_ttl_days: how long a key is remembered after its first use.

    Rows are acknowledged (durable, counted exactly once) when ``flush()`` returns. A batch logged
    with an ``idempotency_key`` lands at once; sending it again with the same key returns the first
    answer and writes nothing, and the same key with different rows raises ``KeyConflictError``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        flush_rows: int = 10_000,
        flush_interval_s: float = 1.0,
        max_buffer_rows: int = 1_000_000,
        strict: bool = False,
        idempotency_scope: str = "sdk",
        idempotency_ttl_days: float = 7.0,
    ) -> None:
        self.data: DataDir = resolve_data_dir(data_dir).ensure()
        sweep_temp_files(self.data.landing)  # temp files of writers that crashed (never acknowledged)
        self.settings = Settings(self.data.settings)
        self.idempotency_scope = idempotency_scope
        self._keys = KeyLedger(self.data.root, ttl_s=idempotency_ttl_days * 86_400.0)
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.max_buffer_rows = max_buffer_rows
        self.strict = strict
        self.stats = CollectorStats()
        self._init_process_state()
        self._closed = False
        ref = weakref.ref(self)
        os.register_at_fork(
            before=lambda: close_idle_before_fork(ref), after_in_child=lambda: reinit_after_fork(ref)
        )
        atexit.register(close_quietly, ref)

    def _init_process_state(self) -> None:
        # After fork the child starts empty: rows buffered by the parent are the parent's to write.
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._pending: dict[tuple[str, str, str, str], Pending] = {}
        self._buffered = 0
        self._cache = ColumnCache(self.settings)
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
            self._cache.declared[model] = self._cache.declared.get(model, Roles()).merged(roles)
            self._cache.models[model] = info
        declare_columns(self.settings, model, roles)
        self._cache.columns.pop(model, None)
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
        source = Path(path)
        try:
            self._check_process()
            if stream not in ("predictions", "outcomes", "inputs", "reference"):
                raise BadInputError(
                    f"unknown stream {stream!r}: use predictions, outcomes, inputs or reference"
                )
            check_model_name(model)
            version, experiment = check_label("version", version), check_label("experiment", experiment)
            explicit = roles_from_kwargs(**roles) if roles else NO_ROLES
            item = Pending(model, stream, version, experiment, explicit)
            plan, names, known, new_names = self._cache.prepare(item, parquet_schema(source), None)
            with self._pool.connection() as con:
                outcome = land_parquet_file(source, plan, self.data.landing, con, copy)
            if outcome is None:  # bad rows, repeated ids or text times: validated and landed row by row
                table = read_file(source, "parquet").table
                return self._log(model, stream, table, version, experiment, None, roles)
            self.stats.accepted += outcome.landed
            self._landed(item, names, known, new_names, outcome)
            return LogResult(accepted=outcome.landed, landed=outcome.landed)
        finally:
            if copy is not None:
                copy.discard()  # no-op once sealed

    def quarantine_lines(self, model: str, stream: str, lines: list[tuple[int, str, str]]) -> None:
        """Keep lines that could not even be parsed (malformed CSV/JSON) with their reason."""
        if not lines:
            return
        check_model_name(model)
        quarantine_lines(self.data.landing, model, stream, lines)
        self.stats.quarantined += len(lines)

    def warm_up(self) -> None:
        """Open a validation connection and convert one row, so no lazy import waits for a first call."""
        to_arrow([{"id": "warm-up", "value": 1.0}])
        with self._pool.connection() as con:
            duck.warm_up(con)

    def flush(self) -> None:
        """Write every buffered row durably; when it returns, those rows are acknowledged."""
        self._check_process()
        with self._flush_lock:
            with self._lock:
                work = list(self._pending.values())
                self._pending = {}
                self._buffered = 0
            failed: list[Pending] = []
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
        explicit = roles_from_kwargs(**roles) if roles else NO_ROLES
        slot = (model, stream, version, experiment)
        if isinstance(data, dict) and key is None:
            with self._lock:
                if not self._admit(1):
                    return LogResult(accepted=0)
                item = self._pending.get(slot)
                if item is None:
                    item = self._pending[slot] = Pending(
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
        item = Pending(model, stream, version, experiment, explicit)
        if key is None:
            return self._log_table(item, table, None)
        return log_keyed(
            self._keys,
            self.idempotency_scope,
            item,
            table,
            key,
            roles,
            lambda k: self._log_table(item, table, k),
        )

    def _log_table(self, item: Pending, table: pa.Table, key: str | None) -> LogResult:
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

    def _requeue(self, item: Pending) -> None:
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
                target=autoflush, args=(ref, self._wake), daemon=True, name="duckwatch-flush"
            )
            self._thread.start()

    def _land(self, item: Pending, table: pa.Table, key: str | None) -> BatchOutcome:
        # land_batch is looked up in this module on every write: tests patch it to simulate a full disk.
        plan, names, known, new_names = self._cache.prepare(item, table.schema, key)
        with self._pool.connection() as con:
            outcome = land_batch(table, plan, self.data.landing, con=con)
        if outcome.quarantined:
            quarantine_rows(self.data.landing, item, plan, table, outcome)
        self._landed(item, names, known, new_names, outcome)
        return outcome

    def _landed(
        self,
        item: Pending,
        names: list[str],
        known: dict[str, catalog.ColumnInfo],
        new_names: list[str],
        outcome: BatchOutcome,
    ) -> None:
        record_schema_events(self.settings, item, names, known, new_names, outcome)
        self.stats.landed += outcome.landed
        self.stats.quarantined += len(outcome.quarantined)


__all__ = ["Collector", "CollectorStats", "LogResult"]
