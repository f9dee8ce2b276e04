"""A batch logged with an idempotency key: claimed, landed under an id naming its content, answered once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from duckwatch.collector._prepare import Pending, batch_fingerprint
from duckwatch.collector.results import LogResult
from duckwatch.errors import BadInputError
from duckwatch.store.idempotency import KeyLedger


def log_keyed(
    keys: KeyLedger,
    scope: str,
    item: Pending,
    table: pa.Table,
    key: str,
    roles: dict[str, Any],
    land: Callable[[str], LogResult],
) -> LogResult:
    """Land ``table`` once under ``key`` (``land`` takes the batch key), or answer as the first time."""
    fingerprint = batch_fingerprint(table, item.version, item.experiment, roles)
    claim = keys.claim(scope, item.model, item.stream, key, fingerprint)
    if claim.answer is not None:  # this very batch was acknowledged before: answer as then
        return LogResult(**{**claim.answer, "replayed": True})
    try:
        # The batch id names scope, key and content: a key reused for other rows can never
        # overwrite a landed batch, nor be dropped as its duplicate.
        result = land(f"{scope}|{key}|{fingerprint}")
    except BaseException as exc:
        keys.release(claim, nothing_written=isinstance(exc, BadInputError))
        raise
    if result.landed or result.quarantined:
        keys.acknowledge(claim, dataclasses.asdict(result))
    else:  # buffered or refused: not durable yet; the same rows may be sent again with this key
        keys.release(claim, nothing_written=False)
    return result
