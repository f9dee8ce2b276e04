"""The narrow reads the pages use return exactly the rows of `duckwatch export metrics` they stand for."""

from __future__ import annotations

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.readmodels import app_views as av
from duckwatch.readmodels.views import export_frame
from duckwatch.store import published


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert not want.empty
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def test_metric_slice_equals_the_filtered_export(app_data: DataDir) -> None:
    full = export_frame(app_data, "metrics", "credit")
    last = full[full["family"] == "drift"]["window_start"].max()
    pair = ("v2", "challenger")

    def part(mask: pd.Series) -> pd.DataFrame:
        return full[mask]

    def sliced(**kw: object) -> pd.DataFrame:
        return published.metric_slice(app_data, "credit", **kw)  # type: ignore[arg-type]

    _same(sliced(model_level=True), part(full["column"] == ""))
    _same(
        sliced(families=("drift",), window_start=last, pair=pair),
        part((full["family"] == "drift") & (full["window_start"] == last) & (full["version"] == "v2")),
    )
    _same(
        sliced(metrics=("js_distance",), cols=("income",)),
        part((full["metric"] == "js_distance") & (full["column"] == "income")),
    )
    _same(
        sliced(families=("quality",), skip_status=("ok",)),
        part((full["family"] == "quality") & (full["status"] != "ok")),
    )
    _same(
        sliced(families=("volume",), prefixes=("js_",)),
        part((full["family"] == "volume") | full["metric"].str.startswith("js_")),
    )


def test_catalog_latest_and_windows_agree_with_the_export(app_data: DataDir) -> None:
    full = export_frame(app_data, "metrics", "credit")
    catalog = published.metric_catalog(app_data, "credit")
    assert av.version_pairs(catalog) == [("v1", "champion"), ("v2", "challenger")]
    prim = av.primary(full)
    assert av.primary_pair(catalog) == (prim["version"].iloc[0], prim["experiment"].iloc[0])
    mons = av.monitors(catalog, av.primary_pair(catalog))
    assert set(zip(mons["metric"], mons["column"], strict=True)) == set(
        zip(av.overall(prim)["metric"], av.overall(prim)["column"], strict=True)
    )
    latest = published.latest_per_series(app_data, "credit")
    for key in (("v1", "champion"), ("v2", "challenger")):
        _, want = av.compare(full, key, ("v2", "challenger") if key[0] == "v1" else ("v1", "champion"))
        _, got = av.compare(latest, key, ("v2", "challenger") if key[0] == "v1" else ("v1", "champion"))
        pd.testing.assert_frame_equal(got, want)
    windows = published.metric_windows(app_data, "credit", "drift")
    assert windows == sorted(set(full[full["family"] == "drift"]["window_start"]), reverse=True)
