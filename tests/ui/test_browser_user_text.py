"""Real browser on user text that is also markup: shown as text, never fetched, linked or run.

Names, an incident comment and column names written as Markdown images, Markdown links, bare URLs, HTML
anchors and spreadsheet formulas, all pointing at a local server that counts the requests it gets.
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store.alerting import create_threshold
from duckwatch.store.incidents import assign, comment, list_incidents
from duckwatch.store.settings import Settings
from duckwatch.store.users import add_user
from tests.ui.test_browser import ARGS, CHROMIUM, _need_chromium, _settle, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

NOW = datetime(2026, 1, 8, tzinfo=UTC)
FORMULA_COLUMN = '=HYPERLINK("http://evil.example/x","click")'
RAW_SECRET = "RAW-VALUE-4711"
WORD_JOINER = "\u2060"  # invisible; the app puts one inside a bare URL so that it stays text
USERS = {"vic": ("viewer", "viewer-pass-1"), "ed": ("editor", "editor-pass-1")}


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _counting_server() -> Iterator[str]:
    _Counter.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _texts(base: str) -> dict[str, str]:
    """What each place holds: Markdown images and links, a bare URL and an HTML anchor at ``base``."""
    return {
        "display": f"![display]({base}/display.png)",
        "owner": f"[owner]({base}/owner)",
        "purpose": f"![purpose]({base}/purpose.png) see {base}/purpose-url",
        "comment": f"![comment]({base}/comment.png)",
        "assignee": f"![assignee]({base}/assignee.png)",
        "image_column": f"![column]({base}/column.png)",
        "url_column": f"{base}/column-url",
        "html_column": f'<a href="{base}/plotly">anchor</a>',
    }


def _frame(rng: np.random.Generator, texts: dict[str, str], start: str, shift: float, prefix: str) -> Any:
    n = 2160  # three days of 2-minute predictions
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="2min", tz="UTC"),
            texts["image_column"]: rng.normal(shift, 1.0, n),
            texts["url_column"]: rng.normal(shift, 1.0, n),
            texts["html_column"]: rng.normal(shift, 1.0, n),
            FORMULA_COLUMN: rng.normal(-shift, 1.0, n),
            "score": rng.random(n),
        }
    )


def _planted(root: Path, texts: dict[str, str]) -> DataDir:
    """One model whose user text is markup everywhere; an open incident with a comment; one bad row."""
    data = DataDir(root).ensure()
    settings = Settings(data.settings)
    create_threshold(
        settings, actor="test", role="admin", reason="fixture", model="hx", family="volume",
        metric="row_count", kind="absolute", direction="below", warning=5000, critical=1000,
    )  # fmt: skip
    rng = np.random.default_rng(17)
    with Collector(data.root) as c:
        c.declare("hx", display_name=texts["display"], owner=texts["owner"], purpose=texts["purpose"])
        c.log_reference("hx", _frame(rng, texts, "2025-12-01", 0.0, "ref"), id="request_id", timestamp="ts")
        c.log_predictions("hx", _frame(rng, texts, "2026-01-01", 3.0, "p"), id="request_id", timestamp="ts")
        bad = {"request_id": "bad-1", "ts": "1900-01-01T00:00:00Z", "score": 0.5, "note": RAW_SECRET}
        assert c.log_predictions("hx", [bad], id="request_id", timestamp="ts").quarantined == 1
    assert run_tick(data, now=NOW, notify=False).errors == []
    [incident] = list_incidents(settings, model="hx")
    at = NOW.isoformat()
    comment(settings, incident["id"], texts["comment"], actor="ed", role="editor", now=at)
    assign(settings, incident["id"], texts["assignee"], actor="ed", role="editor")
    for name, (role, password) in USERS.items():
        add_user(settings, name, password, role, actor="test")
    return data


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(app URL, planted texts); the counting server runs as long as the app."""
    _need_chromium()
    with _counting_server() as base:
        texts = _texts(base)
        data = _planted(tmp_path_factory.mktemp("usertext") / "data", texts)
        with serving(data) as url:
            yield url, texts


@contextlib.contextmanager
def _browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(browser: Browser, url: str, name: str) -> Page:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(20_000)
    page.goto(url)
    page.get_by_role("textbox", name="User").fill(name)
    page.get_by_role("textbox", name="Password").fill(USERS[name][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()
    _settle(page)
    return page


def _visit(page: Page, nav: str, tab: str | None = None) -> None:
    """Open a page from the sidebar (a reload would start a new session: signed out), then a tab."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=nav).click()
    _settle(page)
    if tab is not None:
        page.get_by_role("tab", name=tab).click()
        _settle(page)
    # Scroll through the page: nothing below the fold may fetch either.
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 1e6)")
    page.wait_for_timeout(300)


def _markdown_text(page: Page) -> str:
    """The visible text of every Markdown element, without the invisible word joiners that keep a bare
    URL from turning into a link (a reader sees the text as it was written)."""
    text: str = page.evaluate(
        """() => Array.from(document.querySelectorAll(
            '[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"]'))
            .filter(el => el.getClientRects().length > 0).map(el => el.innerText).join('\\n')"""
    )
    return text.replace(WORD_JOINER, "")


def _plot_text(page: Page) -> str:
    """The text drawn in Plotly charts (titles, ticks, legends: SVG text)."""
    text: str = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot svg text'))
            .map(el => el.textContent).join('\\n')"""
    )
    return text


def _markup_to(page: Page, base: str) -> list[str]:
    """Elements that point at ``base``: images, links (HTML or SVG), sources, frames."""
    found: list[str] = page.evaluate(
        """base => Array.from(document.querySelectorAll('*')).flatMap(el =>
            ['src', 'href', 'xlink:href', 'srcset', 'data'].filter(a => (el.getAttribute(a) || '')
                .includes(base)).map(a => el.tagName + '@' + a))""",
        base,
    )
    return found


def _download(page: Page, scope: Any) -> list[list[str]]:
    with page.expect_download() as download:
        scope.get_by_role("button", name="Download CSV").first.click()
    return list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))


def test_user_markup_is_shown_as_text_and_fetches_nothing(hostile_app: tuple[str, dict[str, str]]) -> None:
    url, texts = hostile_app
    base = texts["url_column"].rsplit("/", 1)[0]
    with _browser() as browser:
        page = _signed_in(browser, url, "vic")
        seen: dict[str, list[str]] = {}
        missing: dict[str, list[str]] = {}
        for nav, tab, shown in (
            ("Portfolio", None, ("display",)),
            ("Model", None, ("display", "owner", "assignee")),
            ("Model", "Diagnose", ("html_column", "image_column")),
            ("Alerts", None, ("display", "assignee")),
            ("Audit", None, ("display", "purpose")),
            ("Thresholds", None, ()),
        ):
            path = f"{nav}/{tab}"
            _visit(page, nav, tab)
            if nav == "Alerts":
                page.get_by_text("Alerts and comments in this incident").first.click()
                _settle(page)
                shown = (*shown, "comment")
            assert page.locator('[data-testid="stException"]').count() == 0, path
            written = _markdown_text(page) + "\n" + _plot_text(page)
            missing[path] = [k for k in shown if texts[k] not in written]
            seen[path] = _markup_to(page, base)
        page.wait_for_timeout(500)
    assert _Counter.hits == [], _Counter.hits  # no image (or anything) was fetched from user text
    assert seen == {path: [] for path in seen}  # no image, link or anchor points there either
    assert missing == {path: [] for path in missing}  # and each text reads as it was written


def test_download_csv_in_the_app_neutralises_formulas(hostile_app: tuple[str, dict[str, str]]) -> None:
    url, _texts = hostile_app
    with _browser() as browser:
        page = _signed_in(browser, url, "vic")
        _visit(page, "Model", "Diagnose")
        rows = _download(page, page.locator('[data-testid="stMain"]'))
    header, body = rows[0], rows[1:]
    columns = {r[header.index("column")] for r in body}
    assert "'" + FORMULA_COLUMN in columns and FORMULA_COLUMN not in columns
    assert not [c for r in rows for c in r if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert all(float(r[header.index("value")]) >= 0 for r in body)  # numbers stay numbers


def _quarantine_csv(browser: Browser, url: str, name: str) -> tuple[str, list[list[str]]]:
    from playwright.sync_api import expect

    page = _signed_in(browser, url, name)
    _visit(page, "Model")
    page.get_by_text("Quarantined rows").click()
    box = page.locator('[data-testid="stExpander"]').filter(has_text="Quarantined rows")
    expect(box.get_by_role("button", name="Download CSV")).to_be_visible()
    _settle(page)
    return box.inner_text(), _download(page, box)


def test_raw_quarantined_values_only_for_editors(hostile_app: tuple[str, dict[str, str]]) -> None:
    url, _texts = hostile_app
    with _browser() as browser:
        viewer_text, viewer_csv = _quarantine_csv(browser, url, "vic")
        editor_text, editor_csv = _quarantine_csv(browser, url, "ed")
    assert "editors" in viewer_text and RAW_SECRET not in viewer_text
    assert "raw" not in viewer_csv[0] and RAW_SECRET not in str(viewer_csv)
    assert any("event time" in " ".join(r) or "1900" in " ".join(r) for r in viewer_csv[1:]), viewer_csv
    assert "rows" in viewer_csv[0]
    assert "raw" in editor_csv[0] and RAW_SECRET in str(editor_csv)
    assert "editors" not in editor_text
