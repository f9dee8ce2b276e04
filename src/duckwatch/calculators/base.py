"""What a calculator is: fit once per reference, calculate every window of a tick at once, typed rows out.

The job's compute stage loops over the registry (`registered`), nothing else: a new drift method or
performance metric is one `Calculator` in one module that calls `register`. Each calculator declares
what it reads (`reads`), and the job recomputes, for a window whose labels alone changed, only the
calculators that read labels (or the row count); the others' rows are kept from the window's last full
computation. It declares too whether it works from mergeable profiles or needs the window's rows
(`needs_rows`), which is what a profile computed elsewhere (a Spark pass) can or cannot feed.

State fitted on a reference (a calibrator, reference values) is returned by `fit` and kept by the job
in a `FittedStates`, keyed by (model, version, reference stamp), for as long as the job runs: a new
reference, another version's reference or changed settings give another key, never a stale value.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

import pandas as pd

__all__ = [
    "ENGINE_VERSION",
    "Calculator",
    "FittedStates",
    "MetricRow",
    "Read",
    "WindowKey",
    "register",
    "registered",
    "rows_frame",
]

# Bump when a calculator's rows change for the same inputs (a new metric, a fixed formula, another
# decision rule): an existing data dir then recomputes its history once, without notifications
# (jobs/settings_change.py). 1: the calculator engine.
ENGINE_VERSION = 1

Read = Literal["rows", "labels", "row_count", "profiles", "reference", "store"]


@dataclass(frozen=True, slots=True)
class WindowKey:
    """One window of a model: its version, experiment and [start, end)."""

    version: str
    experiment: str
    start: datetime
    end: datetime

    def as_tuple(self) -> tuple[str, str, datetime, datetime]:
        return (self.version, self.experiment, self.start, self.end)


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One computed value of one window: a row of ``metric_results`` without its window and model."""

    family: str
    metric: str
    value: float = math.nan
    col: str = ""
    segment: str = ""
    lower: float = math.nan
    upper: float = math.nan
    exact: bool = True
    method: str = ""
    threshold: float = math.nan
    status: str = "ok"
    n: int = 0
    provisional: bool = False
    details: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> MetricRow:
        """A row from the mapping the metric code builds; an unknown key is an error, a missing one
        (or a None) takes the field's default."""
        if None in row.values():
            row = {k: v for k, v in row.items() if v is not None}
        return cls(**row)


FIELDS = tuple(f.name for f in fields(MetricRow))
_VALUES = operator.attrgetter(*FIELDS)


def rows_frame(rows: Sequence[tuple[WindowKey, MetricRow]]) -> pd.DataFrame:
    """Rows with their windows as one frame (the columns of ``metric_results`` but model and time)."""
    window = ("version", "experiment", "window_start", "window_end")
    records = [(*w.as_tuple(), *_VALUES(r)) for w, r in rows]
    return pd.DataFrame.from_records(records, columns=[*window, *FIELDS])


class Calculator(Protocol):
    """Computes one group of metrics for every window of a tick (see the module docstring)."""

    name: ClassVar[str]
    reads: ClassVar[frozenset[Read]]
    needs_rows: ClassVar[bool]

    def fit(self, batch: Any) -> Any:
        """State fitted on the reference, or None: called once per (model, version, reference)."""

    def calculate(self, batch: Any, state: Any) -> list[list[MetricRow]]:
        """Each window's rows, in the batch's window order (windows it does not apply to: [])."""


_REGISTRY: dict[str, Calculator] = {}


def register(calculator: Calculator) -> Calculator:
    """Add a calculator to the job's loop (a later one with the same name replaces it)."""
    _REGISTRY[calculator.name] = calculator
    return calculator


def registered() -> list[Calculator]:
    """The calculators the compute stage runs, in registration order."""
    return list(_REGISTRY.values())


@dataclass
class FittedStates:
    """Fitted reference state per (calculator, model, version, reference stamp), for one job's life."""

    _states: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def get(self, key: tuple[str, ...], fit: Callable[[], Any]) -> Any:
        if key not in self._states:
            stale = [k for k in self._states if k[:3] == key[:3]]  # same calculator, model, version
            for k in stale:
                del self._states[k]
            self._states[key] = fit()
        return self._states[key]

    def fitted(self) -> Iterable[tuple[str, ...]]:
        """The keys of the states held now."""
        return self._states.keys()
