"""Storage: the only package that imports duckdb or sqlite3 (see STYLE.md)."""
