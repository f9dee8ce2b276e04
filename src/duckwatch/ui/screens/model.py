"""Model: status and story (Overview), why (Diagnose), Fairness, History."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from duckwatch.jobs import app_views as av
from duckwatch.jobs.report import build_report
from duckwatch.ui import components as ui
from duckwatch.ui import data

TABS = ["Overview", "Diagnose", "Fairness", "History"]
ALL = "all versions"


def _version_filter(frame: pd.DataFrame) -> pd.DataFrame:
    pairs = sorted(
        {
            "/".join(filter(None, p)) or "(default)"
            for p in zip(frame["version"], frame["experiment"], strict=True)
        }
    )
    options = [ALL, *pairs]
    wanted = st.query_params.get("version", ALL)
    choice = st.selectbox(
        "Version / experiment", options, index=options.index(wanted) if wanted in options else 0
    )
    st.query_params["version"] = choice
    if choice == ALL:
        return frame
    label = frame["version"].str.cat(frame["experiment"], sep="/").str.strip("/").replace("", "(default)")
    return frame[label == choice]


def _overview(model: str, row: dict[str, object], frame: pd.DataFrame) -> None:
    since = f" since {pd.Timestamp(str(row['since'])):%a %d %b %H:%M}" if row.get("since") else ""
    badge = f" · {ui.PROVISIONAL}" if row.get("provisional") else ""
    st.markdown(f"### {ui.status_word(str(row['status']))}{since}{badge}")
    st.write(f"{row['display_name']}: {row['reason']}. Owner: {row['owner'] or 'nobody yet'}.")
    for inc in data.incidents(model):
        if str(inc.get("state")) == "resolved":
            continue
        with st.container(border=True):
            st.markdown(
                f"**Incident:** {inc.get('title', '')} · {ui.status_word(str(inc.get('severity', 'warning')))}"
            )
            st.caption(
                f"Opened {av.ago(inc.get('opened_at'))} · state {inc.get('state')} · assignee {inc.get('assignee') or '—'}"
            )
            if inc.get("likely_cause"):
                st.caption(f"Likely cause: {inc['likely_cause']}")
    series = av.scalar_series(frame)
    if series.empty:
        ui.empty("No model-level metrics computed yet: they appear after the job has closed a window.")
    else:
        bases = list(dict.fromkeys(series["base"]))
        default = [b for b in (*av.HEADLINE_PREFERRED, "label_coverage", "row_count") if b in bases][
            :4
        ] or bases[:4]
        shown = st.multiselect("Metrics over time", bases, default=default, key="overview_metrics")
        if shown:
            ui.small_multiples(series[series["base"].isin(shown)], key=f"headline-{model}")
    _report_button(model)
    with st.expander("Windows (computed and waiting)"):
        ui.table(data.windows(model), key=f"windows-{model}")
    quarantined = data.quarantine(model)
    if not quarantined.empty:
        with st.expander(f"Quarantined rows ({len(quarantined)} shown)"):
            ui.table(quarantined, key=f"quarantine-{model}")


def _report_button(model: str) -> None:
    today = datetime.now(UTC).date()
    picked = st.date_input("Report period", (today - timedelta(days=30), today), key=f"report-period-{model}")
    days = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, date)]
    start, end = (min(days), max(days)) if days else (None, None)

    def html() -> str:  # built only when clicked (the report reads every section)
        return build_report(data.data_dir(), model, start, end, now=datetime.now(UTC))

    st.download_button(
        "Download report (HTML, printable)",
        html,
        file_name=f"{model}-report-{start or 'all'}-{end or 'now'}.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/download:",
        key=f"report-{model}",
    )


def _diagnose(model: str, frame: pd.DataFrame) -> None:
    drift = frame[frame["family"] == "drift"]
    if drift.empty:
        ui.empty(
            "No drift results yet: they need reference data (`duckwatch reference`) and a closed window."
        )
    else:
        windows = sorted(drift["window_start"].unique(), reverse=True)
        ws = st.selectbox("Window", windows, format_func=lambda w: f"{pd.Timestamp(w):%Y-%m-%d %H:%M}")
        table = av.drift_table(frame, ws)
        names = sorted(drift["metric"].unique())
        metric = st.selectbox(
            "Drift metric", names, index=names.index("js_distance") if "js_distance" in names else 0
        )
        top = table[table["metric"] == metric].groupby("column", as_index=False)["value"].max()
        top = top.sort_values("value", ascending=False)
        ui.bars(top, "column", "value", key=f"drift-{model}", title=f"{metric} per feature (largest first)")
        ui.table(table, key=f"drift-table-{model}")
        if st.toggle("Show feature × window heatmap", key="heatmap"):
            ui.heatmap(
                av.drift_heatmap(frame, metric), key=f"heat-{model}", title=f"{metric} by feature and window"
            )
        col = st.selectbox("Compare distributions of", list(top["column"]))
        row = drift[(drift["window_start"] == ws)].iloc[0]
        pair = data.histogram_pair(model, col, str(ws), str(row["version"]), str(row["experiment"]))
        if pair.empty:
            st.caption("No stored profile for this column and window.")
        else:
            ui.histogram_pair(
                pair, key=f"hist-{model}", title=f"{col}: reference vs {pd.Timestamp(ws):%Y-%m-%d}"
            )
    st.markdown("#### Data quality (latest window)")
    counts = av.status_counts(frame, "quality")
    for c, (status, n) in zip(st.columns(3), counts.items(), strict=True):
        c.metric(ui.status_word(status), n)
    quality = frame[(frame["family"] == "quality") & (frame["status"] != "ok")]
    if not quality.empty:
        ui.table(quality, key=f"quality-{model}")
    st.markdown("#### Output distribution")
    output = frame[frame["family"] == "output"]
    if output.empty:
        st.caption("No output-distribution results yet.")
    else:
        ui.table(output.sort_values("window_start", ascending=False), key=f"output-{model}")


def _fairness(model: str, frame: pd.DataFrame) -> None:
    rows = av.fairness_rows(frame)
    if rows.empty:
        st.info(
            "No fairness results for this model. Declare a sensitive column and the job checks group rates "
            "(positive rate, TPR, FPR) against the four-fifths rule:",
            icon=":material/info:",
        )
        st.code(f'collector.declare("{model}", sensitive=["gender"])', language="python")
        return
    ui.table(rows, key=f"fairness-{model}")


def _history(model: str) -> None:
    incidents = data.incidents(model)
    if incidents:
        ui.table(pd.DataFrame(incidents), key=f"incidents-{model}")
    else:
        st.caption("No alerts or incidents recorded for this model.")
    st.markdown("#### Threshold and settings changes")
    changes = data.audit_log(text=model)
    ui.table(changes, key=f"changes-{model}")


def render() -> None:
    """The model page."""
    st.title("Model")
    model = ui.pick_model(data.models())
    if model is None:
        ui.empty("No models yet.", ui.SDK_SNIPPET)
        return
    row = data.model_row(model)
    if not row:
        ui.empty(f"Model {model} is not registered any more: pick another one.")
        return
    frame = _version_filter(data.metrics(model))
    tab = st.query_params.get("tab", TABS[0])
    tabs = st.tabs(TABS, default=tab if tab in TABS else TABS[0], key="model_tab", on_change="rerun")
    if st.session_state.get("model_tab"):
        st.query_params["tab"] = st.session_state["model_tab"]
    with tabs[0]:
        _overview(model, row, frame)
    with tabs[1]:
        _diagnose(model, frame)
    with tabs[2]:
        _fairness(model, frame)
    with tabs[3]:
        _history(model)


if __name__ == "__main__":
    render()
