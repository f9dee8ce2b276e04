"""Thresholds: see a monitor's history with its lines, preview a change on real history, save it (audited)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.metrics.registry import get, load_builtins
from duckwatch.readmodels import app_views as av
from duckwatch.safe_text import markdown_literal
from duckwatch.ui import auth, data
from duckwatch.ui import components as ui


def _monitor_label(key: tuple[str, str]) -> str:
    return f"{key[0]} · {key[1]}" if key[1] else key[0]


def _spec(metric: str) -> tuple[str, bool]:
    load_builtins()
    try:
        spec = get(metric)
        return spec.meaning, spec.higher_is_worse
    except KeyError:
        return "", True


def _save(model: str, family: str, metric: str, column: str, sfx: str) -> None:
    state = st.session_state
    if not state.get("thr_reason", "").strip():
        state["thr_msg"] = ("error", "Write a reason: every threshold change is audited with its why.")
        return
    try:
        data.save_threshold(
            auth.role(),
            auth.user(),
            model=model,
            family=family,
            metric=metric,
            column=column,
            warning=float(state["thr_warning" + sfx]),
            critical=float(state["thr_critical" + sfx]),
            direction="above" if state["thr_higher" + sfx] else "below",
            reason=state["thr_reason"].strip(),
            force=bool(state.get("thr_force")),
        )
    except Exception as exc:  # shown to the user: what was wrong and what to do
        state["thr_msg"] = ("error", f"Not saved: {markdown_literal(exc)}")
        return
    state["thr_msg"] = ("success", f"Saved {markdown_literal(metric)} limits for {markdown_literal(model)}.")
    state["thr_reason"] = ""


def _current(existing: Any, history: pd.DataFrame, higher: bool) -> tuple[float, float]:
    """Start from the absolute limits in force, else just beyond the worst value seen (nothing fires)."""
    if existing is not None and existing.kind == "absolute" and existing.warning is not None:
        crit = existing.critical if existing.critical is not None else existing.warning
        return float(existing.warning), float(crit)
    values = history["value"].dropna()
    if values.empty:
        return 1.0, 1.5
    worst = float(values.max() if higher else values.min())
    step = abs(worst) * 0.1 or 0.1
    return (worst + step, worst + 2 * step) if higher else (worst - step, worst - 2 * step)


def render() -> None:
    """The thresholds page."""
    st.title("Thresholds")
    model = ui.pick_model(data.models())
    if model is None:
        ui.empty("No models yet.", ui.SDK_SNIPPET)
        return
    catalog = data.metric_catalog(model)  # one row per series: the page reads one series' history only
    pair = av.primary_pair(catalog)
    series = av.monitors(catalog, pair)
    if pair is None or series.empty:
        ui.empty("No metric history yet: limits can be previewed once the job has computed a few windows.")
        return
    monitors = list(zip(series["metric"], series["column"], strict=True))
    name = str(data.model_row(model).get("headline", ""))
    first = next((i for i, m in enumerate(monitors) if m[0] == name), 0)
    metric, column = st.selectbox(
        "Monitor", monitors, index=first, format_func=_monitor_label, key="thr_monitor"
    )
    meaning, higher_default = _spec(metric)
    if meaning:
        st.caption(markdown_literal(meaning))
    rows = data.metric_slice(model, metrics=(metric,), cols=(column,), pair=pair)
    history = av.overall(rows).sort_values("window_start", kind="stable")
    latest = history.iloc[-1]
    existing = data.threshold_for(
        model, {k: str(latest[k]) for k in ("version", "family", "metric", "column", "segment")}
    )
    if existing is None:
        st.caption("No threshold applies to this monitor yet.")
    else:
        st.caption(
            f"Applies now: {existing.kind} threshold on scope {markdown_literal(existing.scope())} "
            f"(warning {existing.warning}, critical {existing.critical}, {existing.direction}). "
            + markdown_literal(existing.note)
        )
    if existing is not None and existing.managed_in_code:
        st.warning(
            "This threshold is managed in code (a monitors YAML file): an edit here is overwritten by the "
            "next `apply` unless you `export` it back.",
            icon=":material/code:",
        )
    if existing is not None and existing.direction in ("above", "below"):
        higher_default = existing.direction == "above"
    warning, critical = _current(existing, history, higher_default)
    editable = auth.can_write()
    sfx = f"|{model}|{metric}|{column}"  # fresh inputs per monitor
    c1, c2, c3 = st.columns(3)
    w = c1.number_input(
        "Warning at", value=warning, format="%.4g", key="thr_warning" + sfx, disabled=not editable
    )
    c = c2.number_input(
        "Critical at", value=critical, format="%.4g", key="thr_critical" + sfx, disabled=not editable
    )
    higher = c3.toggle("Higher is worse", value=higher_default, key="thr_higher" + sfx, disabled=not editable)
    ui.threshold_chart(
        history[["window_start", "value", "lower", "upper", "status"]], w, c, key=f"thr-{model}"
    )
    preview = av.what_if(history["value"], w, c, higher)
    st.write(
        f"With these limits, of the last {preview['windows']} windows {preview['critical']} would have been "
        f"critical and {preview['warning']} warning."
    )
    if not editable:
        st.info(
            f"Read-only: log in as an editor to change limits (`{auth.CREATE_EDITOR}`).",
            icon=":material/lock:",
        )
        return
    if not data.alerting_available():
        st.caption("Saving needs the alerting modules (duckwatch.store.alerting), which are not installed.")
    if existing is not None and existing.managed_in_code:
        st.checkbox("Override the value managed in code", key="thr_force")
    st.caption("Saving sets absolute limits in the metric's own units for this model.")
    st.text_input("Reason for the change (required, audited)", key="thr_reason")
    st.button(
        "Save limits",
        type="primary",
        on_click=_save,
        args=(model, str(latest["family"]), metric, column, sfx),
        key="thr_save",
    )
    msg = st.session_state.pop("thr_msg", None)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])


if __name__ == "__main__":
    render()
