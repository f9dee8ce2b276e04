"""Metric registry: built-in and user metrics register through the same `register`/`metric` path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

__all__ = [
    "Family",
    "MetricSpec",
    "Shape",
    "all_metrics",
    "get",
    "load_builtins",
    "metric",
    "register",
]

Family = Literal["drift", "quality", "performance", "estimate", "heuristic", "kpi", "output", "volume"]
Shape = Literal["scalar_series", "per_column_table", "histogram_pair", "confusion_matrix", "category_bars"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class MetricSpec:
    """Description of one metric: stable key, plain-language text, family, render shape, normal range."""

    name: str
    display_name: str
    meaning: str
    family: Family
    shape: Shape
    normal_range: tuple[float, float]
    higher_is_worse: bool
    kinds: tuple[str, ...]
    fn: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        # Validate at registration time so a bad custom metric fails loudly where it is defined.
        if not self.name or not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"metric name {self.name!r} must be a non-empty snake_case key")
        if not self.display_name.strip() or not self.meaning.strip():
            raise ValueError(f"metric {self.name!r} needs a display_name and a one-line meaning")
        if self.family not in get_args(Family):
            raise ValueError(f"metric {self.name!r}: family {self.family!r} not in {get_args(Family)}")
        if self.shape not in get_args(Shape):
            raise ValueError(f"metric {self.name!r}: shape {self.shape!r} not in {get_args(Shape)}")
        lo, hi = self.normal_range
        if not lo <= hi:
            raise ValueError(f"metric {self.name!r}: normal_range {self.normal_range} must be (low, high)")
        if not self.kinds:
            raise ValueError(f"metric {self.name!r}: kinds must name at least one column kind")


_REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add a metric spec to the registry; re-registering an identical spec is a no-op."""
    existing = _REGISTRY.get(spec.name)
    if existing is not None and existing != spec:
        # Same name with a different definition would silently change stored results' meaning.
        raise ValueError(
            f"metric {spec.name!r} is already registered with a different definition; pick another name"
        )
    _REGISTRY[spec.name] = spec
    return spec


def metric(
    *,
    name: str,
    display_name: str,
    meaning: str,
    family: Family,
    shape: Shape,
    normal_range: tuple[float, float],
    higher_is_worse: bool,
    kinds: tuple[str, ...],
) -> Callable[[F], F]:
    """Decorator registering a pure function as a metric; returns the function unchanged."""

    def decorate(fn: F) -> F:
        register(
            MetricSpec(
                name=name,
                display_name=display_name,
                meaning=meaning,
                family=family,
                shape=shape,
                normal_range=normal_range,
                higher_is_worse=higher_is_worse,
                kinds=kinds,
                fn=fn,
            )
        )
        return fn

    return decorate


def get(name: str) -> MetricSpec:
    """Return the spec registered under `name`, or raise KeyError listing the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "(none; call load_builtins() first)"
        raise KeyError(f"unknown metric {name!r}; known metrics: {known}") from None


def all_metrics() -> list[MetricSpec]:
    """Return all registered specs sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def load_builtins() -> list[MetricSpec]:
    """Import the modules defining built-in metrics (registering them) and return all specs."""
    # Imported here, not at the top: those modules import this one to register their metrics.
    from duckwatch.metrics import builtins  # noqa: F401

    return all_metrics()
