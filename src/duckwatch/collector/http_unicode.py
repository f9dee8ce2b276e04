"""Rows of an HTTP request whose text is not valid Unicode: found after JSON decoding, quarantined.

JSON may escape one half of a UTF-16 surrogate pair alone (``"\\ud800"``); Python decodes it to a
string that no UTF-8 file, Arrow column or DuckDB table can hold. Such a row is set aside in
quarantine with the reason (its raw JSON kept with the escape as sent), and the batch's other rows land,
as for any other bad row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from duckwatch.collector.sdk import Collector
from duckwatch.store.landing import write_quarantine

# A surrogate can only come from a \uD800-\uDFFF escape (raw surrogate bytes are not UTF-8, refused
# earlier as malformed JSON): bodies without one skip the scan.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
Unreadable = tuple[int, str, str]  # (row number in the request, reason, raw JSON)


def is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode (holds no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a decoded JSON value, keys included (iteratively: nesting may be deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())


def _where(row: dict[str, Any]) -> str | None:
    for name, value in row.items():
        if not is_text(name):
            return f"a column name ({json.dumps(name)})"
        if not all(is_text(s) for s in _strings(value)):
            return f"column {json.dumps(name)}"
    return None


def reason(where: str) -> str:
    """What was wrong with text in ``where`` and what to send instead."""
    return (
        f"text that is not valid Unicode in {where}: a lone UTF-16 surrogate escape (\\ud800-\\udfff "
        "without its other half); send the text as UTF-8, or escape both halves of the pair"
    )


def split_unreadable(
    body: bytes, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Unreadable]]:
    """The rows that can be stored, and the others with their row number, reason and raw JSON."""
    if not _SURROGATE_ESCAPE.search(body):
        return rows, []
    good: list[dict[str, Any]] = []
    bad: list[Unreadable] = []
    for i, row in enumerate(rows):
        where = _where(row)
        if where is None:
            good.append(row)
        else:  # ensure_ascii: the raw JSON keeps the escape as it was sent, and is valid text
            bad.append((i, reason(where), json.dumps(row, ensure_ascii=True, default=str)))
    return good, bad


def quarantine_unreadable(
    collector: Collector,
    model: str,
    stream: str,
    version: str,
    experiment: str,
    key: str | None,
    rows: list[Unreadable],
) -> None:
    """Keep ``rows`` in quarantine: under an idempotency key, once (a retry seals the same batch)."""
    if key is None:
        batch = f"{time.time_ns():020d}-{os.getpid()}-u{uuid.uuid4().hex[:8]}"
    else:  # named by scope, key and content, like a keyed batch: sealed files are never replaced
        name = [collector.idempotency_scope, model, stream, version, experiment, key, rows]
        batch = "k" + hashlib.sha256(json.dumps(["unreadable", *name]).encode()).hexdigest()[:32]
    now = datetime.now(UTC)
    write_quarantine(
        [
            {
                "_batch": batch,
                "_row": i,
                "_stream": stream,
                "_version": version,
                "_experiment": experiment,
                "_reason": why,
                "_raw": raw,
                "_received_at": now,
            }
            for i, why, raw in rows
        ],
        collector.data.landing,
        model,
        batch,
    )
    collector.stats.accepted += len(rows)
    collector.stats.quarantined += len(rows)
