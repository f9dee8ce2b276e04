"""HTTP collector: predictions and outcomes from any language, answered 2xx only once rows are durable.

Status codes: 200 = the request was processed and every row is accounted for (``accepted`` =
``landed`` + ``quarantined``; rows that failed validation, text that is not valid Unicode included,
are kept in quarantine and reported in ``reasons`` — look at ``quarantined`` rather than expecting
207); 400 = the request itself is malformed (bad JSON, invalid model name); 401 = missing or wrong
bearer token; 403 = a write from a web page of another origin; 415 = a body not sent as
``application/json``; 421 = a ``Host`` that is not one of the collector's names (see http_guard);
409 = a request with the same ``Idempotency-Key`` is still being written (retry shortly);
413 = body too large; 422 = well-formed JSON that is not a row or a batch (or whose version,
experiment or roles are not valid Unicode), or an ``Idempotency-Key`` already used for another body;
503 = the disk cannot be written (retry with the same ``Idempotency-Key``: rows are stored exactly
once).

Idempotency keys are scoped to (token, model, stream) and remembered for ``idempotency_ttl_days``
(default 7) after their first use: the same key with the same body answers the first answer again
(``"replayed": true``) and writes nothing; the same key with another body answers 422 and changes
nothing. Bodies are compared by a hash of their canonical content (rows with columns in name order,
version, experiment, roles).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import fields
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from duckwatch.collector.http_guard import Guard, HostCheck, HttpError, idempotency_scope
from duckwatch.collector.http_schema import build_schema
from duckwatch.collector.http_token import checked_token, resolve_token
from duckwatch.collector.http_unicode import is_text, quarantine_unreadable, split_unreadable
from duckwatch.collector.roles import Roles
from duckwatch.collector.sdk import Collector, LogResult
from duckwatch.config import resolve_data_dir
from duckwatch.errors import (
    BadInputError,
    CollectorRefusedError,
    KeyConflictError,
    KeyInFlightError,
    StorageError,
)
from duckwatch.names import check_model_name

log = logging.getLogger("duckwatch.http")

BATCH_KEYS = frozenset({"rows", "version", "experiment", "roles"})
ROLE_NAMES = tuple(f.name for f in fields(Roles))
MULTI_ROLES = frozenset({"scores", "segments", "sensitive", "values", "categorical", "ignore"})
MAX_KEY_CHARS = 200
_KEY_RE = re.compile(rf"^[!-~]{{1,{MAX_KEY_CHARS}}}$")


def create_app(
    data_dir: str | os.PathLike[str] | None = None,
    token: str | None = None,
    max_body_bytes: int = 10_000_000,
    idempotency_ttl_days: float = 7.0,
    *,
    token_source: str = "its start-up options",
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
) -> Starlette:
    """The collector's ASGI app: one shared, thread-safe Collector writes every request durably.

    Without ``token``, the token comes from $DUCKWATCH_TOKEN or the data dir's ``collector.token``
    (generated at the first start). Requests must name 127.0.0.1, localhost, ::1 or one of
    ``allowed_hosts``; writes must come from no web page other than ``allowed_origins``.
    """
    data = resolve_data_dir(data_dir)
    if token is None:
        found = resolve_token(data.root)
        token, token_source = found.value, found.source
    token = checked_token(token, token_source)  # an empty token would let "Bearer " in
    guard = Guard.build(token, token_source, allowed_hosts, allowed_origins)
    collector = Collector(
        data.root,
        flush_interval_s=3600.0,
        idempotency_scope=guard.scope,
        idempotency_ttl_days=idempotency_ttl_days,
    )
    warm_up(collector)

    async def log_stream(request: Request) -> JSONResponse:
        stream = str(request.url.path).rsplit("/", 1)[-1]
        try:
            guard.check_write(request)
            model = request.path_params["model"]
            try:
                check_model_name(model)
            except BadInputError as exc:
                raise HttpError(400, "invalid_model_name", str(exc)) from exc
            key = _idempotency_key(request)
            body = await _read_body(request, max_body_bytes)
            result = await run_in_threadpool(_handle, collector, stream, model, body, key)
        except HttpError as exc:
            return exc.response()
        return JSONResponse(result)

    async def healthz(_request: Request) -> JSONResponse:
        s = collector.stats
        return JSONResponse(
            {
                "status": "ok",
                "accepted": s.accepted,
                "landed": s.landed,
                "quarantined": s.quarantined,
                "refused": s.refused,
                "flush_errors": s.flush_errors,
            }
        )

    async def openapi(_request: Request) -> JSONResponse:
        return JSONResponse(openapi_schema(max_body_bytes))

    routes = [
        Route("/v1/models/{model}/predictions", log_stream, methods=["POST"]),
        Route("/v1/models/{model}/outcomes", log_stream, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(collector.close)

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(HostCheck, guard=guard)])
    app.state.collector = collector
    return app


def warm_up(collector: Collector) -> None:
    """Import and initialise, before the first request, everything a request needs.

    Libraries imported lazily by a first request (pandas, through pyarrow and DuckDB) would be
    imported by several request threads at once, and a thread that sees a half-imported module
    fails: the first concurrent requests of a fresh server answered 500. One validation of a batch
    in memory (nothing is written) runs every lazy import once, here, in one thread.
    """
    import pandas  # noqa: F401  (pyarrow and DuckDB import it lazily on their first conversion)

    collector.warm_up()


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not _KEY_RE.match(key):
        raise HttpError(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable ASCII characters without spaces, "
            "e.g. a UUID generated per batch and reused on retries",
        )
    return key


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = HttpError(
        413,
        "body_too_large",
        f"request body exceeds {limit} bytes: split the rows into smaller batches "
        "(or start the collector with a larger --max-body-mb)",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # the real limit: Content-Length may lie or be absent
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _handle(collector: Collector, stream: str, model: str, body: bytes, key: str | None) -> dict[str, Any]:
    rows, version, experiment, roles = _parse(body, stream)
    # Rows whose text no file can hold are quarantined with the reason; the others land as usual.
    good, unreadable = split_unreadable(body, rows)
    result = LogResult(accepted=0)
    if good:
        result = _log(collector, stream, model, good, version, experiment, roles, key)
    if unreadable:
        try:
            quarantine_unreadable(collector, model, stream, version, experiment, key, unreadable)
        except (StorageError, OSError) as exc:
            raise _unavailable(stream, model, exc) from exc
        reasons = sorted({*result.reasons, *(why for _, why, _ in unreadable)})[:20]
        result = LogResult(
            accepted=result.accepted + len(unreadable),
            landed=result.landed,
            quarantined=result.quarantined + len(unreadable),
            reasons=reasons,
            replayed=result.replayed,
        )
    return {
        "accepted": result.accepted,
        "landed": result.landed,
        "quarantined": result.quarantined,
        "reasons": result.reasons,
        "idempotency_key": key,
        "replayed": result.replayed,
    }


def _unavailable(stream: str, model: str, exc: Exception) -> HttpError:
    log.error("duckwatch http: could not store %s for %s: %s", stream, model, exc)
    return HttpError(
        503,
        "storage_unavailable",
        f"rows could not be stored durably ({exc}); retry later with the same Idempotency-Key",
    )


def _log(
    collector: Collector,
    stream: str,
    model: str,
    rows: list[dict[str, Any]],
    version: str,
    experiment: str,
    roles: dict[str, Any],
    key: str | None,
) -> LogResult:
    try:
        # Rows go in as a list: a list lands now (a one-row dict without a key would be buffered).
        if stream == "predictions":
            result = collector.log_predictions(
                model, rows, version=version, experiment=experiment, idempotency_key=key, **roles
            )
        else:
            result = collector.log_outcomes(model, rows, idempotency_key=key, **roles)
        if result.buffered:  # the write failed and the SDK kept the rows: not durable until flushed
            collector.flush()
            result = LogResult(accepted=result.accepted, landed=result.buffered)
    except KeyConflictError as exc:
        raise HttpError(422, "idempotency_key_reused", str(exc)) from exc
    except KeyInFlightError as exc:
        raise HttpError(409, "request_in_flight", str(exc), {"Retry-After": "1"}) from exc
    except BadInputError as exc:
        raise HttpError(422, "invalid_rows", str(exc)) from exc
    except Exception as exc:
        if not _is_data_error(exc):
            raise
        # A value the store could not convert (e.g. an epoch timestamp out of range) rejects the batch.
        log.warning("duckwatch http: rows for %s rejected: %s", model, exc)
        raise HttpError(
            422,
            "unreadable_value",
            f"a value could not be read ({str(exc)[:300]}): fix the value (timestamps as ISO-8601 "
            "such as 2026-01-31T12:00:00Z, numbers within range) and resend",
        ) from exc
    except (StorageError, CollectorRefusedError, OSError) as exc:
        raise _unavailable(stream, model, exc) from exc
    if result.accepted == 0 and result.landed == 0:
        raise HttpError(
            503, "collector_full", "the collector's buffer is full; retry later with the same Idempotency-Key"
        )
    return result


def _is_data_error(exc: BaseException) -> bool:
    """DB-API ``DataError``: the database could not process a value (not a server fault)."""
    return any(cls.__name__ == "DataError" for cls in type(exc).__mro__)


def _parse(body: bytes, stream: str) -> tuple[list[dict[str, Any]], str, str, dict[str, Any]]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise HttpError(
            400,
            "malformed_json",
            f"the body is not valid JSON ({str(exc)[:200]}): send one row as a JSON object, "
            'e.g. {"id": "r1", "score": 0.7}, or a batch as {"rows": [...]}',
        ) from exc
    if isinstance(doc, list):
        doc = {"rows": doc}
    if not isinstance(doc, dict):
        raise HttpError(
            422, "not_an_object", 'the body must be a JSON object: one row, or a batch {"rows": [...]}'
        )
    if "rows" not in doc:
        _check_row(doc, 0)
        return [doc], "", "", {}
    unknown = sorted(set(doc) - BATCH_KEYS)
    if unknown:
        raise HttpError(
            422,
            "unknown_batch_keys",
            f"unknown key(s) {unknown} in a batch: a batch has only 'rows', 'version', 'experiment' "
            "and 'roles' (send a row with a column named 'rows' inside a batch)",
        )
    rows = doc["rows"]
    if not isinstance(rows, list) or not rows:
        raise HttpError(422, "invalid_rows", "'rows' must be a non-empty list of JSON objects")
    for i, row in enumerate(rows):
        _check_row(row, i)
    version = _label(doc, "version")
    experiment = _label(doc, "experiment")
    if stream == "outcomes" and (version or experiment):
        raise HttpError(
            422,
            "invalid_batch",
            "outcomes take no version or experiment: they join every version's predictions by id",
        )
    return rows, version, experiment, _roles(doc.get("roles"))


def _check_row(row: object, i: int) -> None:
    if not isinstance(row, dict):
        raise HttpError(
            422,
            "row_not_object",
            f"row {i} is a {type(row).__name__}, not an object: each row maps column names to values, "
            'e.g. {"id": "r1", "score": 0.7}',
        )
    if not row:
        raise HttpError(422, "empty_row", f"row {i} has no columns: send at least an id and a value")


def _label(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HttpError(422, "invalid_batch", f'{name!r} must be a string, e.g. "v2"')
    if not is_text(value):
        raise HttpError(422, "invalid_text", f"{name!r} is not valid Unicode (a lone surrogate escape)")
    return value


def _roles(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HttpError(422, "invalid_roles", 'roles must be an object, e.g. {"id": "request_id"}')
    out: dict[str, Any] = {}
    for role, column in value.items():
        names = column if isinstance(column, list) else [column]
        if not all(is_text(c) for c in (role, *names) if isinstance(c, str)):
            raise HttpError(422, "invalid_text", "roles name columns in text that is not valid Unicode")
        if role not in ROLE_NAMES:
            raise HttpError(
                422, "invalid_roles", f"unknown role {role!r}; known roles: {', '.join(ROLE_NAMES)}"
            )
        one = isinstance(column, str) and bool(column)
        many = (
            role in MULTI_ROLES and isinstance(column, list) and all(isinstance(c, str) and c for c in column)
        )
        if one or many:
            out[role] = column
        elif column is not None:
            kind = "a column name or a list of column names" if role in MULTI_ROLES else "a column name"
            raise HttpError(422, "invalid_roles", f"role {role!r} must be {kind}, got {column!r}"[:300])
    return out


def openapi_schema(max_body_bytes: int = 10_000_000) -> dict[str, Any]:
    """The hand-written OpenAPI 3.0 description of the collector's endpoints."""
    return build_schema(max_body_bytes)


__all__ = ["create_app", "idempotency_scope", "openapi_schema"]
