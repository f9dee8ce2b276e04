"""One module per page (named screens, not pages: see main.py); each exposes ``render()`` for ``st.Page``."""
