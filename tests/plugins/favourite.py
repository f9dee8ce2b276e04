"""An example plugin: a quality heuristic a user adds through the same registry as the built-ins."""

from __future__ import annotations

import pandas as pd

from duckwatch.metrics.registry import metric


@metric(
    name="favourite_first",
    display_name="Favourite category ranked first",
    meaning="Share of sessions whose first recommended item is in the user's favourite category.",
    family="heuristic",
    shape="scalar_series",
    normal_range=(0.3, 1.0),
    higher_is_worse=False,
    kinds=("window",),
)
def favourite_first(rows: pd.DataFrame) -> float | None:
    """Share of rows whose first item belongs to the user's favourite category (None if not a recommender)."""
    if "recommended_items" not in rows or "favourite_category" not in rows:
        return None
    first = rows["recommended_items"].map(lambda items: items[0] if items is not None and len(items) else "")
    return float((first.str.split("-").str[0] == rows["favourite_category"]).mean())
