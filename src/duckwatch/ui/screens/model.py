"""Model: status and story (Overview), why (Diagnose), Fairness, History.

Only the selected tab runs (tabs bound to ``?tab=``), and each tab reads only the metric rows it shows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.readmodels import app_views as av
from duckwatch.readmodels.incident_view import incident_table
from duckwatch.readmodels.metric_words import metric_name
from duckwatch.readmodels.report import build_report
from duckwatch.safe_text import markdown_literal
from duckwatch.ui import auth, data
from duckwatch.ui import components as ui

TABS = ["Overview", "Diagnose", "Fairness", "History"]
ALL = "all versions"
Pair = tuple[str, str] | None


def _label(pair: tuple[str, str]) -> str:
    return "/".join(filter(None, pair)) or "(default)"


def _version_filter(model: str) -> Pair:
    """The (version, experiment) picked in ``?version=``, or None for all of them."""
    pairs = {_label(p): p for p in av.version_pairs(data.metric_catalog(model))}
    options = [ALL, *sorted(pairs)]
    wanted = st.query_params.get("version", ALL)
    choice = st.selectbox(
        "Version / experiment", options, index=options.index(wanted) if wanted in options else 0
    )
    st.query_params["version"] = choice
    return None if choice == ALL else pairs[choice]


def _when(iso: str) -> str:
    ts = pd.Timestamp(iso)
    return f"{ts:%Y-%m-%d %H:%M}" if (ts.hour or ts.minute) else f"{ts:%Y-%m-%d}"


def _overview(model: str, row: dict[str, Any], pair: Pair) -> None:
    since = f" since {row['since_text']}" if row.get("since_text") else ""
    badge = f" · {ui.PROVISIONAL}" if row.get("provisional") else ""
    st.markdown(f"### {ui.status_word(str(row['status']))}{since}{badge}")
    name, reason = markdown_literal(row["display_name"]), markdown_literal(row["reason"])
    st.write(f"{name}: {reason}. Owner: {markdown_literal(row['owner'] or 'nobody yet')}.")
    for inc in data.incidents(model, state="open"):
        with st.container(border=True):
            title, severity = markdown_literal(inc["headline"]), str(inc.get("severity", "warning"))
            st.markdown(f"**Incident:** {title} · {ui.status_word(severity)}")
            assignee = markdown_literal(inc.get("assignee") or "—")
            st.caption(markdown_literal(inc["timeline"].line()))
            st.caption(
                f"{markdown_literal(inc['timeline'].durations())} · state {inc.get('state')} · assignee {assignee}"
            )
            if inc.get("cause"):
                st.caption(f"Likely cause: {markdown_literal(inc['cause'])}")
    series = av.scalar_series(data.metric_slice(model, model_level=True, pair=pair))
    if series.empty:
        ui.empty("No model-level metrics computed yet: they appear after the job has closed a window.")
    else:
        bases = list(dict.fromkeys(series["base"]))
        # Two panels by default (the headline outcome metric and volume): each panel costs the browser time.
        head = next((b for b in av.HEADLINE_PREFERRED if b in bases), bases[0])
        default = list(dict.fromkeys([head, *(b for b in ("row_count", "label_coverage") if b in bases)]))[:2]
        shown = st.multiselect(
            "Metrics over time", bases, default=default, key="overview_metrics", format_func=metric_name
        )
        if shown:
            ui.small_multiples(series[series["base"].isin(shown)], key=f"headline-{model}")
    _report_button(model)
    windows = st.expander("Windows (computed and waiting)", key=f"exp-windows-{model}", on_change="rerun")
    if windows.open:
        with windows:
            ui.table(data.windows(model), key=f"windows-{model}")
    if row.get("quarantined"):
        label = f"Quarantined rows ({row['quarantined']}; the latest 200 shown)"
        box = st.expander(label, key=f"exp-quarantine-{model}", on_change="rerun")
        if box.open:
            with box:
                _quarantine(model)


def _quarantine(model: str) -> None:
    """Rows set aside: their raw values for editors and admins, only reasons and counts for viewers."""
    if auth.can_write():
        ui.table(data.quarantine(model), key=f"quarantine-{model}")
        return
    st.caption(
        "Reasons and counts only: the rows' raw values can hold personal or confidential data, "
        "so only editors and admins see them (sign in as one)."
    )
    ui.table(data.quarantine_reasons(model), key=f"quarantine-reasons-{model}")


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


def _on_cell(chart_key: str) -> None:
    """A heatmap cell was clicked: point the distribution pickers at its feature and window."""
    event = st.session_state.get(chart_key)
    points = event["selection"]["points"] if event else []
    if points:
        st.session_state["diag_col"] = str(points[0]["customdata"][2])  # y is the drawn (escaped) name
        st.session_state["diag_window"] = str(points[0]["customdata"][0])
        st.session_state["diag_clicked"] = True


def _follow_window() -> None:
    """The distribution shows the window picked for the ranking until a heatmap cell says otherwise."""
    st.session_state["diag_window"] = st.session_state["diag_rank_window"]


def _pick(label: str, options: list[str], key: str, default: str, **kwargs: Any) -> str:
    """A selectbox whose remembered value is dropped when it is no longer an option."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return str(st.selectbox(label, options, key=key, **kwargs))


def _distribution(model: str, columns: list[str], windows: list[str], ws: str, pair: Pair) -> None:
    st.markdown("#### Reference vs current distribution")
    st.caption("Click a cell of the heatmap above, or pick a feature and a window here.")
    left, right = st.columns(2)
    with left:
        col = _pick("Feature", columns, "diag_col", columns[0])
    with right:
        window = _pick("Window", windows, "diag_window", ws, format_func=_when)
    part = data.metric_slice(model, families=("drift",), window_start=window, cols=(col,), pair=pair)
    if part.empty:
        st.caption(f"No drift result for {markdown_literal(col)} in the window of {_when(window)}.")
        return
    first = part.iloc[0]
    pair_of = (str(first["version"]), str(first["experiment"]))
    frame = data.histogram_pair(model, col, window, *pair_of)
    if frame.empty:
        if "reference's labels" in str(
            first.get("method", "")
        ):  # calculators/label_drift.py: no profile is kept
            st.caption(
                f"{markdown_literal(col)} is the label: its drift compares the window's labels, as they "
                "arrive, with the reference's labels (values in the table above); no histogram is stored for it."
            )
        else:
            st.caption("No stored profile for this column and window.")
        return
    ui.histogram_pair(frame, key=f"hist-{model}", title=f"{col}: reference vs {_when(window)}")


def _drift(model: str, pair: Pair) -> None:
    windows = data.metric_windows(model, "drift", pair)
    if not windows:
        ui.empty(
            "No drift results yet: they need reference data (`duckwatch reference`) and a closed window."
        )
        return
    ws = _pick("Window", windows, "diag_rank_window", windows[0], format_func=_when, on_change=_follow_window)
    table = av.drift_table(data.metric_slice(model, families=("drift",), window_start=ws, pair=pair), ws)
    names = sorted(set(table["metric"])) or ["js_distance"]
    metric = _pick("Drift metric", names, "diag_metric", "js_distance")
    top = av.top_features(table, metric)
    ui.bars(top, "column", "value", key=f"drift-{model}", title=f"{metric} per feature (largest first)")
    ui.table(table, key=f"drift-table-{model}")
    if st.toggle("Show feature × window heatmap (click a cell for its distribution)", key="heatmap"):
        matrix = av.drift_heatmap(
            data.metric_slice(model, families=("drift",), metrics=(metric,), pair=pair), metric
        )
        if not matrix.empty:
            first = [c for c in top["column"] if c in matrix.index]
            matrix = matrix.reindex([*first, *(c for c in matrix.index if c not in first)])
            key = f"heat-{model}-{metric}"
            ui.heatmap(
                matrix, key=key, title=f"{metric} by feature and window", on_select=lambda: _on_cell(key)
            )
    columns = list(top["column"]) or sorted(set(table["column"]))
    if columns:
        _distribution(model, columns, windows, ws, pair)


def _diagnose(model: str, pair: Pair) -> None:
    _drift(model, pair)
    quality_windows = data.metric_windows(model, "quality", pair)
    if not quality_windows:
        st.markdown("#### Data quality")
        st.caption("No data-quality results yet.")
    else:
        latest = quality_windows[0]
        st.markdown(f"#### Data quality (latest window: {_when(latest)})")
        rows = data.metric_slice(model, families=("quality",), window_start=latest, pair=pair)
        counts = av.status_counts(rows, "quality")
        for c, (status, n) in zip(st.columns(3), counts.items(), strict=True):
            c.metric(ui.status_word(status), n)
        failing = rows[rows["status"] != "ok"] if not rows.empty else rows
        if failing.empty:
            st.caption("Every data-quality check passed in this window.")
        else:
            ui.table(failing.reset_index(drop=True), key=f"quality-{model}")
    st.markdown("#### Output distribution")
    output = data.metric_slice(model, families=("output",), pair=pair)
    if output.empty:
        st.caption("No output-distribution results yet.")
    else:
        ui.table(output.sort_values("window_start", ascending=False), key=f"output-{model}")


def _fairness(model: str, pair: Pair) -> None:
    rows = data.metric_slice(model, families=("fairness",), prefixes=av.FAIRNESS_METRICS, pair=pair)
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
        shown, export = incident_table(incidents)
        ui.table(shown, key=f"incidents-{model}", export=export)
    else:
        st.caption("No alerts or incidents recorded for this model.")
    st.markdown("#### Threshold and settings changes")
    changes = data.model_changes(model)
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
        ui.empty(f"Model {markdown_literal(model)} is not registered any more: pick another one.")
        return
    pair = _version_filter(model)
    overview, diagnose, fairness, history = st.tabs(TABS, key="tab", bind="query-params", on_change="rerun")
    if diagnose.open:
        with diagnose:
            _diagnose(model, pair)
    elif fairness.open:
        with fairness:
            _fairness(model, pair)
    elif history.open:
        with history:
            _history(model)
    else:
        with overview:
            _overview(model, row, pair)


if __name__ == "__main__":
    render()
