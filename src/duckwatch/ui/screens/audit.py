"""Audit: who changed what and why (append-only log), and the model card."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from duckwatch.safe_text import markdown_literal
from duckwatch.ui import components as ui
from duckwatch.ui import data

SHOW_ROWS = 200  # drawing (and auto-sizing) a 1,000-row grid costs the browser more than the query


def _card(model: str) -> None:
    card = data.model_card(model)
    if not card:
        st.caption("This model is not registered.")
        return
    st.markdown(f"### {markdown_literal(card['display_name'])}")
    if card["purpose"]:
        st.write(markdown_literal(card["purpose"]))
    else:
        st.write("No purpose written yet (set it with `Collector.declare(..., purpose=...)`).")
    facts = {
        k: card[k]
        for k in ("owner", "task", "window", "timezone", "label_horizon_hours", "versions", "created_at")
    }
    ui.table(
        pd.DataFrame([{"field": k, "value": str(v) or "—"} for k, v in facts.items()]), key=f"card-{model}"
    )
    st.markdown("#### Columns and roles")
    ui.table(
        pd.DataFrame(card["columns"], columns=["column", "role", "type", "class"]), key=f"columns-{model}"
    )


def render() -> None:
    """The audit page."""
    st.title("Audit")
    st.caption("The audit log is append-only: the settings store refuses updates and deletes.")
    c1, c2, c3 = st.columns(3)
    actors = ["anyone", *data.audit_actors()]
    actor = c1.selectbox("Who", actors)
    text = c2.text_input("What (action or target contains)")
    since = c3.date_input("Since", value=None)
    log = data.audit_log(
        actor="" if actor == "anyone" else actor,
        text=text.strip(),
        since=since.isoformat() if isinstance(since, date) else "",
    )
    st.write(f"{len(log)} entries")
    ui.table(log, key="audit", show_rows=SHOW_ROWS)
    st.divider()
    st.subheader("Model card")
    model = ui.pick_model(data.models())
    if model is None:
        st.caption("No models yet.")
        return
    _card(model)


if __name__ == "__main__":
    render()
