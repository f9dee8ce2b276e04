"""Alerts: incidents by state; acknowledge, assign, resolve (was it useful?) and comment."""

from __future__ import annotations

from typing import Any

import streamlit as st

from duckwatch.readmodels.incident_view import alerts_table, incident_table
from duckwatch.safe_text import markdown_literal
from duckwatch.ui import auth, data
from duckwatch.ui import components as ui

STATES = ["open", "acknowledged", "resolved"]
USEFUL = {"yes": True, "no": False}
REFRESH_S = 60


def _act(action: str, incident_id: Any) -> None:
    state = st.session_state
    extra: dict[str, Any] = {}
    if action == "assign":
        extra["assignee"] = state.get(f"assignee-{incident_id}", "").strip() or auth.user()
    elif action == "resolve":
        # Only what the user chose: no answer is stored as unknown (NULL), never as a silent "yes".
        extra["useful"] = USEFUL.get(state.get(f"useful-{incident_id}") or "")
        extra["note"] = state.get(f"note-{incident_id}", "")
    elif action == "comment":
        extra["text"] = state.get(f"note-{incident_id}", "").strip()
        if not extra["text"]:
            state["alert_msg"] = "Write a comment first."
            return
    try:
        data.incident_action(action, auth.role(), auth.user(), incident_id, **extra)
        state["alert_msg"] = f"Incident {incident_id}: {action} saved."
    except Exception as exc:  # shown to the user with what to do
        state["alert_msg"] = f"Not saved: {markdown_literal(exc)}"


def _controls(inc: dict[str, Any]) -> None:
    iid = inc.get("id")
    state = str(inc.get("state", "open"))
    c1, c2, c3 = st.columns(3)
    if state == "open":
        c1.button("Acknowledge", key=f"ack-{iid}", on_click=_act, args=("acknowledge", iid))
    c2.text_input("Assign to", key=f"assignee-{iid}", placeholder=auth.user())
    c2.button("Assign", key=f"assign-{iid}", on_click=_act, args=("assign", iid))
    st.text_area("Note or comment", key=f"note-{iid}", height=68)
    if state != "resolved":
        c3.radio("Was this alert useful?", list(USEFUL), index=None, key=f"useful-{iid}", horizontal=True)
        c3.button("Resolve", key=f"resolve-{iid}", on_click=_act, args=("resolve", iid))
    st.button("Comment", key=f"comment-{iid}", on_click=_act, args=("comment", iid))


def _incident(inc: dict[str, Any]) -> None:
    with st.container(border=True):
        sev = ui.status_word(str(inc.get("severity", "warning")))
        title = markdown_literal(inc["headline"])
        st.markdown(
            f"**{title}** · {sev}", help=f"model id: {inc.get('model')}; stored title: {inc.get('title')}"
        )
        st.caption(markdown_literal(inc["timeline"].line()))
        st.caption(
            f"{markdown_literal(inc['timeline'].durations())} · state {inc.get('state', 'open')} · "
            f"assignee {markdown_literal(inc.get('assignee') or '—')}"
        )
        if inc.get("cause"):
            st.write(f"Likely cause: {markdown_literal(inc['cause'])}")
        box = st.expander(
            "Alerts and comments in this incident", key=f"exp-inc-{inc.get('id')}", on_change="rerun"
        )
        if box.open:  # read only when opened
            with box:
                raw = data.alerts(incident_id=inc.get("id"))
                ui.table(alerts_table(raw), key=f"inc-alerts-{inc.get('id')}", export=raw)
                for c in data.comments(int(inc.get("id") or 0)):
                    who, text = markdown_literal(c.get("author")), markdown_literal(c.get("text"))
                    st.caption(f"{c.get('at', '')[:16]} · {who}: {text}")
        if auth.can_write():
            _controls(inc)


@st.fragment(run_every=REFRESH_S)
def _body() -> None:
    st.caption(f"Updated {data.updated_ago()} · refreshes every {REFRESH_S // 60} min")
    if not data.alerting_available():
        ui.empty("Alerting is not installed in this build: thresholds and incidents appear here once it is.")
        return
    state = st.segmented_control("State", STATES, default="open", key="alert_state") or "open"
    all_rows = data.incidents()
    rows = [i for i in all_rows if str(i.get("state", "open")) == state]
    if not rows:
        st.success(f"No {state} incidents.", icon=":material/check_circle:")
    for inc in rows:
        _incident(inc)
    if all_rows:
        box = st.expander(
            f"All incidents as a table ({len(all_rows)})", key="exp-incidents", on_change="rerun"
        )
        if box.open:
            with box:
                shown, export = incident_table(all_rows)
                ui.table(shown, key="incidents", export=export)
    loose = data.alerts(state=state)
    if not loose.empty:
        st.markdown(f"#### {state.capitalize()} alerts")
        st.caption("Input drift and data quality alerts annotate incidents; they page nobody on their own.")
        ui.table(alerts_table(loose), key=f"alerts-{state}", export=loose)
    msg = st.session_state.pop("alert_msg", None)
    if msg:
        st.toast(msg)


def render() -> None:
    """The alerts page."""
    st.title("Alerts")
    if not auth.can_write():
        st.caption("Read-only: log in as an editor to acknowledge, assign or resolve.")
    _body()


if __name__ == "__main__":
    render()
