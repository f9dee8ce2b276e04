"""Imports point downward: duckdb/sqlite3 only under store/, streamlit only under ui/ and app/; SQL
text only under store/; no dynamic imports of duckwatch modules; no private names across modules."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "duckwatch"
APP = ROOT / "app"
LAYERS = [
    "store", "collector", "metrics", "loading", "calculators", "alerting", "jobs", "spark", "readmodels", "ui",
]  # fmt: skip

# A future Spark loader (a package named `spark` anywhere under src/duckwatch) spells its own queries.
SQL_ALLOWED_PACKAGES = {"store", "spark"}
# A statement keyword, uppercase, then whitespace, at the start of a string (after whitespace).
SQL_START = re.compile(
    r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|ATTACH|DETACH|PRAGMA|BEGIN|COMMIT|"
    r"ROLLBACK|CHECKPOINT|SET|SUMMARIZE|DESCRIBE|EXPORT|IMPORT|INSTALL|LOAD)\s"
)
# The one dynamic import allowed: modules users name in $DUCKWATCH_PLUGINS (calculators/custom.py).
PLUGIN_LOADERS = {"calculators/custom.py"}
DYNAMIC_IMPORTS = {"import_module", "__import__", "find_spec"}


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


def test_pyspark_only_in_spark() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if _layer(p) != "spark" and "pyspark" in {m.split(".")[0] for m in _imports(p)}
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


def _sources() -> Iterator[Path]:
    yield from SRC.rglob("*.py")
    yield from APP.rglob("*.py")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_literals(path: Path) -> list[str]:
    """Strings (and f-string parts) of a file that start with an SQL statement keyword, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [
        f"{path.name}:{node.lineno}: {node.value.strip()[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and SQL_START.match(node.value)
    ]


def _sql_checked(path: Path) -> bool:
    if not path.is_relative_to(SRC):
        return True
    parts = path.relative_to(SRC).parts
    return not (SQL_ALLOWED_PACKAGES & set(parts[:-1]))


def test_sql_only_in_store() -> None:
    offenders = [hit for p in _sources() if _sql_checked(p) for hit in sql_literals(p)]
    assert offenders == [], "SQL belongs in named functions under src/duckwatch/store/"


def test_sql_literal_check_ignores_prose_and_docstrings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""SELECT rows: a docstring may talk about SQL."""\n'
        "def f():\n"
        '    """UPDATE the window state (docstring)."""\n'
        '    return ["Select a model", "SETTINGS saved", "Set the limits", "update later", "WITHOUT labels", "  SELECT 1"]\n'
    )
    assert [hit.split(": ", 1)[1] for hit in sql_literals(sample)] == ["'SELECT 1'"]


def dynamic_imports(path: Path) -> list[str]:
    """Calls of importlib.import_module / __import__ / importlib.util.find_spec in a file (any spelling)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in DYNAMIC_IMPORTS:
                arg = node.args[0] if node.args else None
                text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ""
                out.append(f"{path.name}:{node.lineno}: {name}({text or '...'})")
    return out


def test_no_dynamic_imports_of_duckwatch_modules() -> None:
    offenders = []
    for p in _sources():
        rel = str(p.relative_to(SRC)) if p.is_relative_to(SRC) else ""
        for hit in dynamic_imports(p):
            # The plugin loader imports what users name; a duckwatch module there is still an offender.
            if rel not in PLUGIN_LOADERS or "(duckwatch" in hit:
                offenders.append(hit)
    assert offenders == [], "import duckwatch modules plainly (inside a function when it must be lazy)"


def private_imports(path: Path) -> list[str]:
    """``from duckwatch.x import _y`` (or a relative import of ``_y``) in a file; dunder names aside."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("duckwatch")):
            module = "." * node.level + (node.module or "")
            out += [
                f"{path.name}:{node.lineno}: from {module} import {a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
    return out


def test_no_private_names_imported_across_modules() -> None:
    offenders = [hit for p in _sources() for hit in private_imports(p)]
    assert offenders == [], "make the name public in its module (and say so in __all__) or keep it there"
