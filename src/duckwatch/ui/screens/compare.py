"""Compare two versions or experiments of one model: verdict first, then metrics side by side."""

from __future__ import annotations

import streamlit as st

from duckwatch.readmodels import app_views as av
from duckwatch.safe_text import markdown_literal
from duckwatch.ui import components as ui
from duckwatch.ui import data


def _label(pair: tuple[str, str]) -> str:
    return "/".join(filter(None, pair)) or "(default)"


def render() -> None:
    """The compare page."""
    st.title("Compare")
    model = ui.pick_model(data.models())
    if model is None:
        ui.empty("No models yet.", ui.SDK_SNIPPET)
        return
    frame = data.latest_per_series(model)  # compare reads each series' latest window only
    pairs = av.version_pairs(frame)
    if len(pairs) < 2:
        ui.empty(
            "Comparing needs metrics for two versions or experiments of this model. Log them with "
            '`log_predictions(..., version="v2", experiment="challenger")` on the same request ids.'
        )
        return
    left, right = st.columns(2)
    a = left.selectbox("Baseline", pairs, index=0, format_func=_label, key="cmp_a")
    b = right.selectbox("Candidate", pairs, index=1, format_func=_label, key="cmp_b")
    if a == b:
        st.warning("Pick two different versions or experiments.", icon=":material/warning:")
        return
    verdict, table = av.compare(frame, a, b)
    st.subheader(markdown_literal(verdict))
    st.caption(
        "Latest window of each side; intervals overlap means the difference may be noise. "
        "Statuses are shown as icon and word."
    )
    scalar = table[table["column"] == ""]
    if not scalar.empty:
        ui.interval_chart(scalar, (_label(a), _label(b)), key=f"cmp-{model}")
    ui.table(table, key=f"compare-{model}")


if __name__ == "__main__":
    render()
