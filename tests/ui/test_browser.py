"""Real browser: `duckwatch serve` on a free port, headless Chromium (Debian's), screenshots of each page."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from duckwatch.config import DataDir

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _settle(page: Page) -> None:
    """Wait until Streamlit has finished the run: no 'Running' status, no loading skeletons."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=20_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0")
    page.wait_for_timeout(700)


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install it with `apt-get install chromium` (or `make chromium`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command(port: int, data: DataDir) -> list[str]:
    """`duckwatch serve` through the CLI once it is wired there, else through serve_cli.handle directly."""
    from duckwatch import cli

    if "serve" in cli.build_parser().format_help():
        return [
            sys.executable,
            "-m",
            "duckwatch.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data.root),
        ]
    code = (
        "import argparse, sys; from duckwatch.ui.serve_cli import handle; "
        f"sys.exit(handle(argparse.Namespace(port={port}, host='127.0.0.1', data_dir={str(data.root)!r})))"
    )
    return [sys.executable, "-c", code]


@pytest.fixture
def server(app_data: DataDir) -> Iterator[str]:
    with serving(app_data) as url:
        yield url


@contextlib.contextmanager
def serving(data: DataDir) -> Iterator[str]:
    """`duckwatch serve` of ``data`` on a free port until the block ends; yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    proc = subprocess.Popen(
        _serve_command(port, data),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it stops streamlit too
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"`duckwatch serve` did not become healthy: {out[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _click_heatmap_cell(page: Page) -> None:
    """Show the heatmap, click the cell of the least drifted feature in the latest window, see its distribution."""
    from playwright.sync_api import expect

    page.get_by_text("Show feature × window heatmap").click()
    heat = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="by feature and window")
    expect(heat).to_be_visible()
    _settle(page)
    points = heat.locator("path.point")
    # From the least drifted cell up, the first feature's (the label drifts too, but keeps no histogram).
    for i in range(points.count() - 1, -1, -1):
        box = points.nth(i).bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        hover = page.locator("g.hovertext").first
        expect(hover).to_be_visible()
        found = re.match(r"(.+?) · (\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?)", hover.text_content() or "")
        assert found, hover.text_content()
        feature, when = found.groups()
        if feature != "label":
            break
    default_title = page.get_by_text(re.compile(r": reference vs ")).first.text_content() or ""
    assert not default_title.startswith(f"{feature}:"), "pick a cell other than the default distribution"
    page.mouse.click(x, y)
    title = f"{feature}: reference vs {when}"
    expect(page.get_by_text(title)).to_be_visible()
    expect(page.get_by_role("combobox", name="Feature")).to_have_value(
        feature
    )  # the keyboard fallback follows
    _settle(page)


def test_browser_walks_portfolio_model_diagnose_thresholds_alerts(server: str) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            page.goto(server)
            expect(page.get_by_text("models need attention")).to_be_visible()
            expect(page.get_by_text("Credit risk").first).to_be_visible()
            _settle(page)
            page.screenshot(path=str(SHOTS / "portfolio.png"), full_page=True)

            page.get_by_role("button", name="Open").first.click()
            expect(page.get_by_role("heading", name="Model")).to_be_visible()
            expect(page.get_by_text("Owner: ana@example.com")).to_be_visible()
            page.wait_for_selector(".js-plotly-plot")
            expect(page).to_have_url(re.compile(r"/model\?.*model=credit"))
            _settle(page)
            page.screenshot(path=str(SHOTS / "model.png"), full_page=True)

            page.get_by_role("tab", name="Diagnose").click()
            expect(page.get_by_text(re.compile(r"^Data quality \(latest window: "))).to_be_visible()
            expect(page).to_have_url(re.compile(r"tab=Diagnose"))
            _settle(page)
            _click_heatmap_cell(page)
            page.screenshot(path=str(SHOTS / "diagnose.png"), full_page=True)

            page.goto(f"{server}/thresholds?model=credit")
            expect(page.get_by_text("would have been")).to_be_visible()
            _settle(page)
            page.screenshot(path=str(SHOTS / "thresholds.png"), full_page=True)

            page.goto(f"{server}/alerts")
            expect(page.get_by_text("Predictions per window fell to").first).to_be_visible()
            _settle(page)
            page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)
            assert not page.get_by_text("Traceback").count()
        finally:
            browser.close()
