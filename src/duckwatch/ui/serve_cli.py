"""`duckwatch serve`: start the Streamlit app on loopback, from a clone or an installed wheel."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from duckwatch import ui
from duckwatch.config import DATA_DIR_ENV, resolve_data_dir


def app_path() -> Path:
    """The app's entry script inside the installed package (works for editable and wheel installs)."""
    # Next to the imported package, not imported itself: importing main.py would start the app.
    path = Path(ui.__file__).resolve().parent / "main.py"
    if not path.is_file():
        raise FileNotFoundError("duckwatch.ui.main is missing from this install: reinstall duckwatch")
    return path


def launcher_path() -> Path:
    """The ``st.App`` launcher beside main.py: the app plus the sign-in cookie routes."""
    return app_path().with_name("serve_app.py")


def command(port: int, host: str) -> list[str]:
    """The `streamlit run` command line `serve` executes."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(launcher_path()),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=minimal",
        "--server.fileWatcherType=none",
    ]


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `serve` to the CLI tree."""
    p = sub.add_parser("serve", help="start the app (Streamlit) on http://HOST:PORT")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run the app until Ctrl-C or SIGTERM; return its exit code."""
    data = resolve_data_dir(getattr(args, "data_dir", None))
    if not data.root.exists():
        print(
            f"data dir {data.root} does not exist: create it with `duckwatch init` or `duckwatch demo`",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, DATA_DIR_ENV: str(data.root)}
    print(
        f"duckwatch app on http://{args.host}:{args.port} (data dir {data.root}); Ctrl-C stops it", flush=True
    )
    proc = subprocess.Popen(command(args.port, args.host), env=env)

    def _forward(signum: int, _frame: FrameType | None) -> None:
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, _forward)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
