"""Shared widgets: status badges (icon + word), tables with CSV download, charts rendered by shape."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit.delta_generator import DeltaGenerator

from duckwatch.readmodels.metric_words import metric_name
from duckwatch.safe_text import csv_text, markdown_literal, plot_literal
from duckwatch.ui.status import BADGE as BADGE
from duckwatch.ui.status import ICON_TEXT as ICON_TEXT
from duckwatch.ui.status import PROVISIONAL as PROVISIONAL
from duckwatch.ui.status import STATUS as STATUS
from duckwatch.ui.status import status_text as status_text
from duckwatch.ui.status import status_word as status_word

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
NUMBER_PX, CELL_PAD_PX, HEADER_PAD_PX = 8, 28, 36  # digit width and paddings of the grid's 14 px font


def with_status_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose status columns read "⚠️ Warning" rather than a bare code."""
    out = frame.copy()
    for col in out.columns:
        if str(col).startswith(("status", "severity")):
            out[col] = out[col].map(lambda s: status_text(str(s)) if isinstance(s, str) else s)
    return out


def _shown_number(value: Any) -> str:
    """A number as the grid draws it by default (up to four decimals, trailing zeros dropped)."""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "None"
    return str(value)


def number_widths(frame: pd.DataFrame) -> dict[str, Any]:
    """Pixel widths for numeric columns that fit their widest value in ANY row.

    The grid sizes a column from its first rows; numbers are right-aligned, so a wider value further
    down (39629.0176 under 0.98) lost its left digits and read as 29.0176.
    """
    config: dict[str, Any] = {}
    for col in frame.columns:
        series = frame[col]
        if not isinstance(col, str) or pd.api.types.is_bool_dtype(series):
            continue
        if not pd.api.types.is_numeric_dtype(series) or series.empty:
            continue
        longest = max(len(_shown_number(v)) for v in series.tolist())
        width = int(min(400, max(NUMBER_PX * longest + CELL_PAD_PX, 7.5 * len(col) + HEADER_PAD_PX, 60)))
        config[col] = st.column_config.NumberColumn(col, width=width)
    return config


def table(
    frame: pd.DataFrame,
    key: str,
    filename: str | None = None,
    show_rows: int | None = None,
    export: pd.DataFrame | None = None,
    **kwargs: Any,
) -> None:
    """A dataframe with a CSV download of all of ``frame`` (or of ``export``: the same rows with metric ids);
    ``show_rows`` caps the rows drawn (and says so)."""
    if show_rows is not None and len(frame) > show_rows:
        st.caption(f"Showing the first {show_rows} of {len(frame)} rows; the CSV holds all {len(frame)}.")
    shown = with_status_text(frame if show_rows is None else frame.head(show_rows))
    config = {**number_widths(shown), **(kwargs.pop("column_config", None) or {})}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kwargs)

    def csv() -> bytes:  # written only when the button is clicked, not on every run
        return csv_text(frame if export is None else export).encode("utf-8")

    st.download_button(
        "Download CSV",
        csv,
        file_name=filename or f"{key}.csv",
        mime="text/csv",
        key=f"dl-{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def chart(fig: go.Figure, frame: pd.DataFrame, key: str) -> None:
    """A plotly chart with its table (and CSV) behind an expander."""
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        colorway=PALETTE,
        legend={"orientation": "h", "y": -0.15},
    )
    st.plotly_chart(fig, key=f"chart-{key}", width="stretch")
    chart_table(frame, key)


def opened(label: str, key: str) -> DeltaGenerator | None:
    """An expander whose content runs only while it is open (None when closed): hidden tables cost nothing,
    neither on the server nor in the browser."""
    box = st.expander(label, key=f"exp-{key}", on_change="rerun")
    return box if box.open else None


def chart_table(frame: pd.DataFrame, key: str) -> None:
    """The table behind a chart (with its CSV), read and drawn only when opened."""
    box = opened("Table behind this chart", f"tbl-{key}")
    if box is not None:
        with box:
            table(frame, key)


def sparkline_svg(values: list[float], width: int = 160, height: int = 36) -> str:
    """A tiny line without axes as inline SVG (no chart library: one per portfolio row stays cheap)."""
    finite = [v for v in values if v == v]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
        if v == v
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="trend from {lo:.3g} to {hi:.3g}">'
        f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" points="{points}"/></svg>'
    )


def sparkline(values: list[float], key: str) -> None:
    """A tiny line without axes (portfolio rows), with the latest value."""
    if len(values) < 2:
        st.caption("—" if not values else f"{values[-1]:.3g}")
        return
    st.markdown(
        f'<div data-testid="dw-sparkline" title="{escape(key)}">{sparkline_svg(values)} '
        f"<small>{values[-1]:.3g}</small></div>",
        unsafe_allow_html=True,
    )


MARKERS_UP_TO = 31  # longer series draw a plain line (hundreds of SVG markers are slow to draw)


def small_multiples(series: pd.DataFrame, key: str) -> None:
    """One panel per metric on one shared time axis; estimated dashed, realised solid, provisional hollow."""
    bases = list(dict.fromkeys(series["base"]))
    pairs = list(dict.fromkeys(zip(series["version"], series["experiment"], strict=True)))
    titles = [plot_literal(metric_name(b)) for b in bases]
    fig = make_subplots(
        rows=len(bases), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.06
    )
    for i, base in enumerate(bases, start=1):
        part = series[series["base"] == base]
        for kind, rows in part.groupby("kind", sort=False):
            for (version, experiment), line in rows.groupby(["version", "experiment"]):
                colour = PALETTE[pairs.index((version, experiment)) % len(PALETTE)]
                label = plot_literal(f"{kind} {'/'.join(filter(None, (version, experiment)))}".strip())
                fig.add_trace(
                    go.Scatter(
                        x=line["window_start"],
                        y=line["value"],
                        name=label,
                        legendgroup=label,
                        showlegend=i == 1,
                        mode="lines+markers" if len(line) <= MARKERS_UP_TO else "lines",
                        line={"dash": "dash" if kind == "estimated" else "solid", "color": colour},
                        marker={
                            "symbol": ["circle-open" if p else "circle" for p in line["provisional"]],
                            "size": 8,
                        },
                        hovertemplate="%{x}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
                    ),
                    row=i,
                    col=1,
                )
                provisional = line[line["provisional"].fillna(False).astype(bool)]
                if len(line) > MARKERS_UP_TO and not provisional.empty:  # long series: mark provisional only
                    fig.add_trace(
                        go.Scatter(
                            x=provisional["window_start"],
                            y=provisional["value"],
                            mode="markers",
                            name=f"{label} (provisional)",
                            legendgroup=label,
                            showlegend=False,
                            marker={"symbol": "circle-open", "size": 8, "color": colour},
                            hovertemplate="%{x}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
                        ),
                        row=i,
                        col=1,
                    )
    fig.update_layout(
        height=170 * len(bases) + 60,
        title="○ open circles: provisional, labels still arriving · dashed: estimated before labels arrive",
    )
    chart(fig, series.drop(columns=["base", "kind"]), key)


def limit_text(value: float) -> str:
    """A limit as people read it: 53,980 rather than 5.398e+04; small values to four significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def threshold_chart(history: pd.DataFrame, warning: float | None, critical: float | None, key: str) -> None:
    """A metric's history with its warning and critical lines."""
    fig = go.Figure(
        go.Scatter(
            x=history["window_start"],
            y=history["value"],
            mode="lines+markers" if len(history) <= MARKERS_UP_TO else "lines",
            name="value",
            line={"color": PALETTE[0]},
        )
    )
    for value, name, color, dash in (
        (warning, "warning", PALETTE[1], "dash"),
        (critical, "critical", PALETTE[5], "dot"),
    ):
        if value is not None:
            # Warning's label on the left, critical's on the right: close limits never print over each other.
            fig.add_hline(
                y=value,
                line={"color": color, "dash": dash},
                annotation_text=f"{name} {limit_text(value)}",
                annotation_position="top left" if name == "warning" else "top right",
            )
    fig.update_layout(height=320)
    chart(fig, history, key)


def histogram_pair(frame: pd.DataFrame, key: str, title: str) -> None:
    """Reference vs current shares per bin or category."""
    fig = go.Figure()
    bins = [plot_literal(b) for b in frame["bin"]]
    fig.add_bar(x=bins, y=frame["reference"], name="reference", marker_color=PALETTE[4])
    fig.add_bar(x=bins, y=frame["current"], name="current", marker_color=PALETTE[1])
    fig.update_layout(barmode="group", height=320, title=plot_literal(title), yaxis_title="share of rows")
    chart(fig, frame, key)


def heatmap(matrix: pd.DataFrame, key: str, title: str, on_select: Callable[[], None] | None = None) -> None:
    """Feature × window heatmap (sequential, colour-blind-safe scale) whose cells can be clicked.

    Drawn as square scatter markers: Plotly heatmaps emit no point selections in Streamlit, scatter points do.
    A clicked cell's point carries ``customdata`` = [window ISO timestamp, value, feature] (``y`` is the
    feature as drawn: escaped for Plotly's HTML labels).
    """
    long = pd.DataFrame(matrix.stack()).reset_index()
    long.columns = pd.Index(["column", "window_start", "value"])
    windows = [pd.Timestamp(w) for w in matrix.columns]
    labels = {w: f"{w:%Y-%m-%d %H:%M}" if (w.hour or w.minute) else f"{w:%Y-%m-%d}" for w in windows}
    side = max(6, min(40, 1100 // max(len(windows), 1), 560 // max(len(matrix), 1)))
    fig = go.Figure(
        go.Scatter(
            x=[labels[pd.Timestamp(w)] for w in long["window_start"]],
            y=[plot_literal(c) for c in long["column"]],
            mode="markers",
            customdata=[
                [pd.Timestamp(w).isoformat(), v, str(c)]
                for w, v, c in zip(long["window_start"], long["value"], long["column"], strict=True)
            ],
            marker={
                "symbol": "square",
                "size": side,
                "color": long["value"],
                "colorscale": "Cividis",
                "showscale": True,
                "line": {"width": 0},
            },
            selected={"marker": {"opacity": 1.0}},
            unselected={"marker": {"opacity": 0.8}},
            hovertemplate="%{y} · %{x}<br>%{customdata[1]:.4g}<br>click for the distribution<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=[labels[w] for w in windows])
    rows = [plot_literal(c) for c in matrix.index][::-1]
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=rows)
    fig.update_layout(
        height=max(200, 90 + (side + 4) * len(matrix)), title=plot_literal(title), clickmode="event+select"
    )
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, colorway=PALETTE)
    st.plotly_chart(
        fig,
        key=key,
        width="stretch",
        on_select=on_select or "rerun",
        selection_mode="points",
    )
    chart_table(matrix.reset_index(), key)


def bars(frame: pd.DataFrame, x: str, y: str, key: str, title: str) -> None:
    """Horizontal bars (drift per feature, category counts), largest on top."""
    names = [plot_literal(n) for n in frame[x]]
    fig = go.Figure(go.Bar(x=frame[y], y=names, orientation="h", marker_color=PALETTE[0]))
    fig.update_layout(height=80 + 26 * len(frame), title=plot_literal(title), yaxis={"autorange": "reversed"})
    chart(fig, frame, key)


def empty(message: str, snippet: str | None = None) -> None:
    """An empty state that says what to do next."""
    st.info(message, icon=":material/info:")
    if snippet:
        st.code(snippet, language="python")


SDK_SNIPPET = """from duckwatch import Collector

with Collector("data") as c:
    c.declare("credit", display_name="Credit risk", owner="you@example.com")
    c.log_reference("credit", training_df, id="request_id", timestamp="ts")
    c.log_predictions("credit", predictions_df, version="v1", id="request_id", timestamp="ts")
    c.log_outcomes("credit", labels_df, id="request_id")
# then: duckwatch run   (or keep it running: duckwatch schedule)"""


def _follow_pick() -> None:
    """The model picked in the selector becomes the page's URL (the URL names the model shown)."""
    st.query_params["model"] = st.session_state["model_select"]


def pick_model(rows: list[dict[str, Any]], label: str = "Model") -> str | None:
    """Model selector kept in the URL (?model=...), shared by every page.

    A ``?model=`` naming no model says so and lists the models instead of silently showing another one.
    """
    names = [r["model"] for r in rows]
    if not names:
        return None
    titles = {r["model"]: r["display_name"] for r in rows}
    wanted = st.query_params.get("model") or st.session_state.get("current_model")

    def title(m: str) -> str:
        return titles[m] if titles[m] == m else f"{titles[m]} ({m})"

    if wanted and wanted not in names:
        st.error(f"No model named “{markdown_literal(wanted)}”. Pick one of these:", icon=":material/error:")
        st.markdown("\n".join(f"- [{markdown_literal(title(m))}](?model={quote(m)})" for m in names))
        st.session_state.pop("model_select", None)
        st.selectbox(label, names, index=None, key="model_select", format_func=title, on_change=_follow_pick)
        st.stop()
    picked = wanted or names[0]
    st.session_state["model_select"] = picked
    st.selectbox(label, names, key="model_select", format_func=title, on_change=_follow_pick)
    st.session_state["current_model"] = picked
    st.query_params["model"] = picked
    return str(picked)


def stale_banner(status: dict[str, Any]) -> None:
    """Say plainly when the data is old because the job is not running."""
    if status.get("state") == "stale":
        hours = float(status.get("age_s", 0)) / 3600
        age = f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"
        st.warning(
            f"Data as of {age} ago: start the job with `duckwatch schedule`.", icon=":material/schedule:"
        )
    elif status.get("state") == "never-run":
        st.warning(str(status.get("message", "the job has not run yet")), icon=":material/schedule:")
    elif status.get("state") == "errors":
        errors = markdown_literal(status.get("errors"))
        st.error(f"The last job tick had errors: {errors}", icon=":material/error:")


def interval_chart(table: pd.DataFrame, labels: tuple[str, str], key: str) -> None:
    """Two sides' values with their intervals, one row per metric (no second y-axis)."""
    fig = go.Figure()
    names = (table["metric"] + table["column"].map(lambda c: f" · {c}" if c else "")).map(plot_literal)
    for side, label, color in (("a", labels[0], PALETTE[0]), ("b", labels[1], PALETTE[1])):
        value = table[f"value_{side}"]
        fig.add_trace(
            go.Scatter(
                x=value,
                y=names,
                mode="markers",
                name=plot_literal(label),
                marker={"color": color, "size": 10, "symbol": "circle" if side == "a" else "diamond"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (table[f"upper_{side}"] - value).fillna(0),
                    "arrayminus": (value - table[f"lower_{side}"]).fillna(0),
                },
            )
        )
    fig.update_layout(height=80 + 30 * len(table), title="latest value with interval")
    chart(fig, table, key)
