"""Portfolio: which models need attention, why, and who owns them (the first screen)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.readmodels.app_views import HEALTH_RULE, summary_sentence
from duckwatch.safe_text import markdown_literal
from duckwatch.ui import components as ui
from duckwatch.ui import data

REFRESH_S = 60
CARDS = 8  # the most severe models get a card each; the others share one table (one element, not dozens)


def _row(r: dict[str, Any]) -> None:
    with st.container(border=True):
        left, mid, right = st.columns([3, 2, 2])
        with left:
            badge = f" · {ui.PROVISIONAL}" if r.get("provisional") else ""
            st.markdown(f"**{markdown_literal(r['display_name'])}** · {ui.status_word(r['status'])}{badge}")
            st.caption(markdown_literal(r["reason"]))
            if r.get("timeline"):
                st.caption(markdown_literal(r["timeline"]))
            st.caption(f"Owner: {markdown_literal(r['owner'] or '— (no owner)')}")
        with mid:
            tip = f"metric id: {r['headline']}" if r["headline"] else None
            st.caption(markdown_literal(r["headline_name"] or "no headline metric yet"), help=tip)
            ui.sparkline(r["headline_values"], key=r["model"])
        with right:
            st.caption(f"Labels so far: {r['label_coverage']:.0%} of all predictions")
            st.caption(f"Latest prediction {r['freshness'] or '—'}")
            if st.button("Open", key=f"open-{r['model']}", icon=":material/arrow_forward:"):
                st.session_state["current_model"] = r["model"]
                st.session_state.pop("model_select", None)
                st.switch_page(st.session_state["_pages"]["model"], query_params={"model": r["model"]})


def _models_table(rows: list[dict[str, Any]], key: str) -> None:
    """Models as one table: status, reason, owner, headline trend, coverage, freshness and a link."""
    frame = pd.DataFrame(
        {
            "status": [r["status"] for r in rows],
            "model": [r["display_name"] for r in rows],
            "reason": [r["reason"] for r in rows],
            "owner": [r["owner"] or "— (no owner)" for r in rows],
            "headline": [r["headline_name"] for r in rows],
            "trend": [r["headline_values"] for r in rows],
            "labels so far": [r["label_coverage"] for r in rows],
            "latest prediction": [r["freshness"] for r in rows],
            "open": [f"./model?model={r['model']}" for r in rows],
        }
    )
    ui.table(
        frame,
        key=key,
        column_config={
            "trend": st.column_config.LineChartColumn("trend"),
            "labels so far": st.column_config.ProgressColumn(
                "labels so far", min_value=0.0, max_value=1.0, format="percent"
            ),
            "open": st.column_config.LinkColumn("open", display_text="Open"),
        },
    )


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


def _gaps(rows: list[dict[str, Any]]) -> None:
    """Coverage gaps: one line per kind of gap (names first), the full table on demand."""
    gaps = [r for r in rows if r["gaps"]]
    if not gaps:
        return
    st.markdown("#### Coverage gaps")
    st.caption("Monitoring is blind where a model has no labels, no owner or no reference.")
    for kind in dict.fromkeys(g for r in gaps for g in r["gaps"]):
        names = [markdown_literal(r["display_name"]) for r in gaps if kind in r["gaps"]]
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        st.markdown(f"**{kind.capitalize()}** ({len(names)}): {', '.join(names[:5])}{more}")
    box = ui.opened(f"Coverage gaps as a table ({len(gaps)} models)", "gaps")
    if box is not None:
        with box:
            frame = pd.DataFrame([{"model": r["model"], "gaps": ", ".join(r["gaps"])} for r in gaps])
            ui.table(frame, key="gaps")


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
    attention = [r for r in rows if r["status"] in ("critical", "warning", "watch")]
    rest = [r for r in rows if r not in attention]
    for r in attention[:CARDS]:
        _row(r)
    if len(attention) > CARDS:
        st.caption(f"{len(attention) - CARDS} more models need attention:")
        _models_table(attention[CARDS:], key="attention-more")
    if not attention:
        st.success("No model needs attention.", icon=":material/check_circle:")
        if rest:
            _models_table(rest, key="others")
    elif rest:
        box = ui.opened(f"Other models ({len(rest)}: healthy or not evaluated yet)", "others")
        if box is not None:
            with box:
                _models_table(rest, key="others")
    _gaps(rows)
    box = ui.opened("All models as a table", "portfolio")
    if box is not None:
        with box:
            ui.table(_frame(rows), key="portfolio")
    with st.expander("How health is decided"):
        st.write(HEALTH_RULE)


def render() -> None:
    """The portfolio page."""
    st.title("Portfolio")
    _body()


if __name__ == "__main__":
    render()
