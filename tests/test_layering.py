"""Imports point downward: duckdb/sqlite3 only under store/, streamlit only under ui/ and app/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "duckwatch"
LAYERS = ["store", "collector", "metrics", "jobs", "readmodels", "ui"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _layer(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 and rel[0] in LAYERS else None


def test_database_drivers_only_in_store() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if _layer(p) != "store" and {"duckdb", "sqlite3"} & {m.split(".")[0] for m in _imports(p)}
    ]
    assert offenders == []


def test_streamlit_only_in_ui() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if _layer(p) != "ui" and "streamlit" in {m.split(".")[0] for m in _imports(p)}
    ]
    assert offenders == []


def test_imports_point_downward() -> None:
    offenders = []
    for p in SRC.rglob("*.py"):
        layer = _layer(p)
        if layer is None:
            continue
        rank = LAYERS.index(layer)
        for mod in _imports(p):
            parts = mod.split(".")
            upward = parts[0] == "duckwatch" and len(parts) > 1 and parts[1] in LAYERS
            if upward and LAYERS.index(parts[1]) > rank:
                offenders.append(f"{p.relative_to(SRC)} imports {mod}")
    assert offenders == []


def test_pages_have_no_sql() -> None:
    pages = SRC / "ui" / "screens"
    if not pages.exists():
        return
    for p in pages.glob("*.py"):
        text = p.read_text(encoding="utf-8").upper()
        assert "SELECT " not in text and "INSERT " not in text, p.name


def test_job_and_ingest_paths_do_not_import_scipy_plotly_or_streamlit() -> None:
    # scipy.stats costs ~1.2 s per process and scipy.special ~0.12 s (it clones the numpy namespace
    # for its array-API backends); a one-shot `duckwatch run` or `duckwatch ingest` would pay them
    # every time. The tick uses metrics/_kstwo.py and metrics/special.py, and imports scipy only on
    # rare branches (raw-row KS, the exact KS tail of small windows, t intervals).
    code = (
        "import sys, duckwatch.cli, duckwatch.collector.sdk, duckwatch.jobs.tick, duckwatch.jobs.compute; "
        "print(sorted(m for m in ('scipy.stats', 'scipy.special', 'plotly', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
