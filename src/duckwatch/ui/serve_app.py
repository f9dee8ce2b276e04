"""What `duckwatch serve` runs: the app (main.py) plus the sign-in cookie routes, as one ``st.App``.

``streamlit run`` finds the module-level ``app`` (an ``st.App``) and serves it with uvicorn.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from duckwatch.ui.session_routes import routes

app = st.App(Path(__file__).resolve().with_name("main.py"), routes=routes())
