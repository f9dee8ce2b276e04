"""Portfolio: which models need attention, why, and who owns them (the first screen)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.jobs.app_views import HEALTH_RULE, summary_sentence
from duckwatch.ui import components as ui
from duckwatch.ui import data

REFRESH_S = 60


def _row(r: dict[str, Any]) -> None:
    with st.container(border=True):
        left, mid, right = st.columns([3, 2, 2])
        with left:
            badge = f" · {ui.PROVISIONAL}" if r.get("provisional") else ""
            st.markdown(f"**{r['display_name']}** · {ui.status_word(r['status'])}{badge}")
            st.caption(r["reason"])
            st.caption(f"Owner: {r['owner'] or '— (no owner)'}")
        with mid:
            st.caption(r["headline"] or "no headline metric yet")
            ui.sparkline(r["headline_values"], key=r["model"])
        with right:
            st.caption(f"Labelled: {r['label_coverage']:.0%} of predictions")
            st.caption(f"Latest prediction {r['freshness'] or '—'}")
            if st.button("Open", key=f"open-{r['model']}", icon=":material/arrow_forward:"):
                st.session_state["current_model"] = r["model"]
                st.session_state.pop("model_select", None)
                st.switch_page(st.session_state["_pages"]["model"], query_params={"model": r["model"]})


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = [
        "model",
        "display_name",
        "status",
        "provisional",
        "reason",
        "owner",
        "headline",
        "label_coverage",
        "freshness",
    ]
    cols += ["predictions", "outcomes", "reference", "quarantined", "versions", "last_ts"]
    frame = pd.DataFrame(rows, columns=[*cols, "gaps"])
    frame["gaps"] = frame["gaps"].map(", ".join)
    return frame


@st.fragment(run_every=REFRESH_S)
def _body() -> None:
    rows = data.portfolio()
    ui.stale_banner(data.job_status())
    if not rows:
        st.subheader("No models yet")
        ui.empty("Log predictions with the SDK, then run the job; models appear here.", ui.SDK_SNIPPET)
        return
    st.subheader(summary_sentence(rows))
    st.caption(f"Updated {data.updated_ago()} · refreshes every {REFRESH_S // 60} min")
    attention = [r for r in rows if r["status"] in ("critical", "warning")]
    rest = [r for r in rows if r not in attention]
    for r in attention:
        _row(r)
    if not attention:
        st.success("No model needs attention.", icon=":material/check_circle:")
    with st.expander(f"Other models ({len(rest)}: healthy or not evaluated yet)", expanded=not attention):
        for r in rest:
            _row(r)
    gaps = [r for r in rows if r["gaps"]]
    if gaps:
        st.markdown("#### Coverage gaps")
        st.caption("Monitoring is blind where a model has no labels, no owner or no reference.")
        ui.table(
            pd.DataFrame([{"model": r["model"], "gaps": ", ".join(r["gaps"])} for r in gaps]), key="gaps"
        )
    with st.expander("All models as a table"):
        ui.table(_frame(rows), key="portfolio")
    with st.expander("How health is decided"):
        st.write(HEALTH_RULE)


def render() -> None:
    """The portfolio page."""
    st.title("Portfolio")
    _body()


if __name__ == "__main__":
    render()
