"""The app entry: page config, login gate, navigation (`streamlit run` this file, or `duckwatch serve`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from duckwatch.ui import auth, data

# Page files live inside the package (not in a folder named pages/: Streamlit would auto-register
# those as pages that run without this script, i.e. without the login gate). Inside the package,
# `duckwatch serve` finds them from a clone and from a wheel alike.
PAGES_DIR = Path(__file__).resolve().parent / "screens"
PAGES = [
    ("portfolio", "Portfolio", ":material/dashboard:"),
    ("model", "Model", ":material/monitoring:"),
    ("compare", "Compare", ":material/compare_arrows:"),
    ("thresholds", "Thresholds", ":material/tune:"),
    ("alerts", "Alerts", ":material/notifications:"),
    ("audit", "Audit", ":material/history:"),
    ("glossary", "Glossary", ":material/menu_book:"),
]


def pages() -> list[st.Page]:
    """Every page, portfolio first."""
    return [
        st.Page(PAGES_DIR / f"{name}.py", title=title, icon=icon, url_path=name, default=name == "portfolio")
        for name, title, icon in PAGES
    ]


def main() -> None:
    """Run the app (one Streamlit script run)."""
    st.set_page_config(page_title="duckwatch", page_icon=":material/visibility:", layout="wide")
    all_pages = pages()
    # Pages link to each other through these objects (st.switch_page needs the Page, not a name).
    st.session_state["_pages"] = {p.url_path: p for p in all_pages}
    nav = st.navigation(all_pages)
    if not auth.gate():
        return
    st.sidebar.caption(f"Data dir: `{data.data_dir().root}`")
    nav.run()


if __name__ == "__main__":
    main()
