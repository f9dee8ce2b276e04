"""`duckwatch serve` finds the app inside the installed package, with loopback-only headless settings."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckwatch
from duckwatch.ui import serve_cli
from duckwatch.ui.main import PAGES, PAGES_DIR


def test_app_and_pages_live_inside_the_package() -> None:
    package = Path(duckwatch.__file__).resolve().parent
    assert serve_cli.app_path().resolve() == package / "ui" / "main.py"
    # Pages are modules of a regular package, so a wheel ships them like any other module.
    assert PAGES_DIR.parent == package / "ui" and (PAGES_DIR / "__init__.py").is_file()
    assert all((PAGES_DIR / f"{name}.py").is_file() for name, _, _ in PAGES)
    assert not (package / "ui" / "pages").exists(), (
        "a pages/ folder would be auto-registered around the login gate"
    )


def test_command_is_headless_on_the_given_address() -> None:
    cmd = serve_cli.command(8765, "127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    # The st.App launcher beside main.py: the app plus the routes that set the HttpOnly sign-in cookie.
    assert cmd[4] == str(serve_cli.app_path().with_name("serve_app.py"))
    for flag in (
        "--server.headless=true",
        "--server.address=127.0.0.1",
        "--server.port=8765",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=minimal",
    ):
        assert flag in cmd


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    args = argparse.Namespace(port=1, host="127.0.0.1", data_dir=str(tmp_path / "nope"))
    assert serve_cli.handle(args) == 2
