"""What a batch leaves behind besides its landed rows: quarantined rows and schema events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from duckwatch.collector._prepare import Pending, new_batch_id
from duckwatch.collector.roles import Roles
from duckwatch.store import catalog
from duckwatch.store.landing import BatchOutcome, BatchPlan, write_quarantine
from duckwatch.store.settings import Settings


def quarantine_rows(
    landing: Path, item: Pending, plan: BatchPlan, table: pa.Table, outcome: BatchOutcome
) -> None:
    """Keep a landed batch's bad rows, each with its reason and raw values."""
    rows = _iso_times(table.take([i for i, _ in outcome.quarantined])).to_pylist()
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
        landing,
        item.model,
        plan.batch_id,
    )


def _iso_times(table: pa.Table) -> pa.Table:
    """Dates and times as ISO-8601 text (numpy formats them): a year past 9999, itself a reason to
    quarantine a row, has no Python datetime to become."""
    for i, f in enumerate(table.schema):
        if not (pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)):
            continue
        col = table.column(i)
        zone: Literal["UTC", "naive"] = "naive"
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            zone = "UTC"
        text = np.datetime_as_string(col.to_numpy(), timezone=zone)
        missing = col.is_null().to_numpy()
        values = pa.array(
            [None if gap else str(t) for t, gap in zip(text, missing, strict=True)], pa.string()
        )
        table = table.set_column(i, pa.field(f.name, pa.string()), values)
    return table


def quarantine_lines(landing: Path, model: str, stream: str, lines: list[tuple[int, str, str]]) -> None:
    """Keep lines that could not even be parsed, as one new batch."""
    batch_id = new_batch_id(Pending(model, stream, "", "", Roles()), None)
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
        landing,
        model,
        batch_id,
    )


def record_schema_events(
    settings: Settings,
    item: Pending,
    names: list[str],
    known: dict[str, catalog.ColumnInfo],
    new_names: list[str],
    outcome: BatchOutcome,
) -> None:
    """New, missing, case-colliding and retyped columns of a landed batch, for the schema log."""
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
                events.append((col.name, "missing_column", f"column {col.name!r} missing from a batch", 1))
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
        catalog.record_schema_events(settings, item.model, item.stream, events)
