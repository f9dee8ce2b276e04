"""Glossary: every metric and family the app shows, by display name with its one-line meaning."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from duckwatch.readmodels.metric_words import FAMILIES, glossary
from duckwatch.ui import components as ui
from duckwatch.ui.status import STATUS, status_word


def render() -> None:
    """The glossary page."""
    st.title("Glossary")
    st.caption(
        "What each metric, family and status means. Metric ids (as stored and exported) are in the CSV; "
        "names built from your own columns (such as “Total revenue”) keep the column's name."
    )
    st.markdown("#### Families")
    for name, meaning in FAMILIES.values():
        st.markdown(f"- **{name}**: {meaning}")
    st.markdown("#### Statuses")
    st.markdown(" ".join(status_word(s) for s in STATUS))
    st.markdown("#### Metrics")
    text = st.text_input("Find a metric", placeholder="e.g. drift, labels, revenue", key="glossary_find")
    words = glossary()
    rows = [
        {"metric": w.name, "meaning": w.meaning, "family": FAMILIES.get(w.family, (w.family, ""))[0]}
        for w in words
    ]
    shown, export = (
        pd.DataFrame(rows),
        pd.DataFrame([{"id": w.id, **r} for w, r in zip(words, rows, strict=True)]),
    )
    if text:
        keep = shown.apply(lambda r: text.lower() in " ".join(r.astype(str)).lower(), axis=1)
        shown, export = shown[keep], export[keep]
    ui.table(
        shown,
        key="glossary",
        export=export,
        column_config={"meaning": st.column_config.TextColumn(width="large")},
    )


if __name__ == "__main__":
    render()
