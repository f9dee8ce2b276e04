"""Registry: every metric is described and renderable; built-ins use the public registration path."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from duckwatch.metrics import registry
from duckwatch.metrics.registry import Family, MetricSpec, Shape

HERE = Path(__file__).parent
MY_TEST_FILES = ("test_drift.py", "test_quality.py")


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register throwaway metrics without leaking them into other tests."""
    registry.load_builtins()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_every_metric_is_described_and_renderable() -> None:
    specs = registry.load_builtins()
    names = {s.name for s in specs}
    assert {"ks", "psi", "js_distance", "hellinger", "wasserstein_norm", "chi2", "linf"} <= names
    assert {"null_share", "nan_share", "inf_share", "special_share", "out_of_range_share"} <= names
    assert {"unseen_share", "constant_column"} <= names
    for spec in specs:
        assert spec.display_name.strip() and spec.meaning.strip(), spec.name
        assert spec.family in get_args(Family) and spec.shape in get_args(Shape), spec.name
        lo, hi = spec.normal_range
        assert lo <= hi, spec.name
        assert spec.kinds, spec.name
        if spec.fn is not None:
            assert inspect.getdoc(spec.fn), f"{spec.name} needs a one-line docstring"


def test_drift_and_quality_metrics_have_tests() -> None:
    text = "".join((HERE / f).read_text() for f in MY_TEST_FILES)
    for spec in registry.load_builtins():
        if spec.family in ("drift", "quality"):
            assert spec.fn is not None and f".{spec.fn.__name__}(" in text, f"no test calls {spec.name}"


def test_builtins_register_like_user_metrics(isolated_registry: None) -> None:
    from duckwatch.metrics import drift

    assert registry.get("ks").fn is drift.ks  # registered by the public decorator at import

    @registry.metric(
        name="my_metric",
        display_name="My metric",
        meaning="A user's metric.",
        family="kpi",
        shape="scalar_series",
        normal_range=(0.0, 1.0),
        higher_is_worse=False,
        kinds=("model",),
    )
    def my_metric(x: float) -> float:
        """Return x."""
        return x

    assert registry.get("my_metric").fn is my_metric
    assert my_metric(2.0) == 2.0
    spec = registry.get("my_metric")
    assert registry.register(spec) is spec  # idempotent
    with pytest.raises(ValueError, match="already registered"):
        registry.register(MetricSpec(**{**spec.__dict__, "meaning": "something else"}))


def test_unknown_metric_error_lists_known_names() -> None:
    registry.load_builtins()
    with pytest.raises(KeyError, match=r"known metrics:.*js_distance"):
        registry.get("jensen")


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad Name"},
        {"display_name": " "},
        {"family": "nope"},
        {"shape": "pie"},
        {"normal_range": (1.0, 0.0)},
    ],
)
def test_invalid_specs_fail_loudly(change: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "ok_name",
        "display_name": "OK",
        "meaning": "fine",
        "family": "drift",
        "shape": "scalar_series",
        "normal_range": (0.0, 1.0),
        "higher_is_worse": True,
        "kinds": ("numeric",),
    }
    with pytest.raises(ValueError):
        MetricSpec(**{**base, **change})  # type: ignore[arg-type]


def test_importing_registry_runs_nothing() -> None:
    code = "import duckwatch.metrics.registry as r, sys; print(len(r.all_metrics()), 'duckwatch.metrics.drift' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["0", "False"]
