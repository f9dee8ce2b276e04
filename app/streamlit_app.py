"""Thin entry for `streamlit run app/streamlit_app.py`: the pages live in the installed package."""

from __future__ import annotations

from duckwatch.ui.main import main

main()
