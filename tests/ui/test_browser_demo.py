"""Real browser on `duckwatch demo`: the stakeholder app's bugs, each seen the way a person sees it.

One read-only server on the demo data dir, and one on a copy with an editor (for the tests that write).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from duckwatch.config import DataDir
from duckwatch.store.alerting import create_threshold, update_threshold
from duckwatch.store.incidents import list_incidents
from duckwatch.store.settings import Settings
from duckwatch.store.users import add_user
from tests.ui.test_browser import ARGS, CHROMIUM, _need_chromium, _settle, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

EDITOR = ("ed", "editor-pass-1")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def demo_url(demo_data: DataDir) -> Iterator[str]:
    with serving(demo_data) as url:
        yield url


@pytest.fixture(scope="module")
def editable(demo_data: DataDir, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """A copy of the demo with an editor, and a threshold of house-price's that was created then changed."""
    root = tmp_path_factory.mktemp("demo-edit") / "data"
    shutil.copytree(demo_data.root, root)
    data = DataDir(root)
    settings = Settings(data.settings)
    add_user(settings, EDITOR[0], EDITOR[1], "editor", actor="test")
    made = create_threshold(
        settings, actor="ana", role="editor", reason="tighter after the market shift", model="house-price",
        family="performance", metric="mae", kind="absolute", direction="above", warning=40000, critical=50000,
    )  # fmt: skip
    update_threshold(settings, made.id, actor="ana", role="editor", reason="too noisy", warning=42000)
    return data


@pytest.fixture(scope="module")
def editor_url(editable: DataDir) -> Iterator[str]:
    with serving(editable) as url:
        yield url


def _page(browser: Browser, url: str, width: int = 1400) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(url)
    return page


def _sign_in(page: Page) -> None:
    """Sign in as the editor on the login form the app shows in place of any page."""
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="User").fill(EDITOR[0])
    page.get_by_role("textbox", name="Password").fill(EDITOR[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {EDITOR[0]}")).to_be_visible()
    _settle(page)


def _grid_cells(grid: Locator, column: str) -> list[str]:
    """The text of one column's rendered cells (the grid's accessible table mirrors the canvas)."""
    headers = grid.locator("th").all_inner_texts()
    index = headers.index(column) + 1
    return grid.locator(f'td[aria-colindex="{index}"]').all_inner_texts()


def _cards(page: Page) -> dict[str, str]:
    """Portfolio cards by model display name: the card's visible text."""
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Open").first).to_be_visible()
    _settle(page)
    cards = page.locator('[data-testid="stVerticalBlock"]').filter(
        has=page.get_by_role("button", name="Open")
    )
    out: dict[str, str] = {}
    for i in range(cards.count()):
        text = cards.nth(i).inner_text()
        if (
            text.count("Open") == 1 and "Owner" in text
        ):  # the card, not one of its columns or a block of cards
            out[text.split(" · ")[0].strip()] = text
    return out


def _clipped_borders(png: bytes) -> list[int]:
    """x of every inner column border of a grid screenshot that has cell text (dark ink) touching it.

    Numbers are right-aligned: a value wider than its column loses its LEFT digits, so its ink starts
    right at the column's left border. Text that fits keeps the grid's padding there.
    """
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    width, height = img.size
    px = img.load()
    assert px is not None
    body = range(40, height - 4)
    borders = [
        x for x in range(2, width - 2)
        if sum(150 <= int(px[x, y]) <= 245 for y in body) >= 0.8 * len(body)  # type: ignore[arg-type]
    ]  # fmt: skip
    assert len(borders) > 3, "no column borders found in the grid screenshot"
    return [
        x for x in borders
        if any(int(px[x + dx, y]) < 120 for dx in (1, 2, 3) for y in body)  # type: ignore[arg-type]
    ]  # fmt: skip


def test_wide_numbers_below_narrow_ones_keep_their_left_digits(browser: Browser, demo_url: str) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{demo_url}/model?model=house-price", width=2600)
    _settle(page)
    # Label coverage (0.98) sorts above RMSE (39629.02): the grid sized the column for the first rows.
    page.get_by_role("combobox", name="Metrics over time").click()
    page.get_by_role("option", name=re.compile(r"^(label_coverage|Labels so far)$")).click()
    page.keyboard.press("Escape")
    _settle(page)
    page.get_by_text("Table behind this chart").first.click()
    _settle(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 300, box["y"] + 150)
    page.mouse.wheel(0, 62 * 35)  # past the label-coverage rows, to the RMSE rows
    page.wait_for_timeout(800)
    assert any(float(v) > 10_000 for v in _grid_cells(grid, "value") if v and v != "None")
    assert _clipped_borders(grid.screenshot()) == []
    page.close()


def test_history_lists_the_models_threshold_changes(browser: Browser, editor_url: str) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{editor_url}/model?model=house-price&tab=History", width=2600)
    _sign_in(page)
    expect(page.get_by_text("Threshold and settings changes")).to_be_visible()
    _settle(page)
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text="threshold.update")
    expect(grid).to_be_visible()
    assert {"threshold.create", "threshold.update"} <= set(_grid_cells(grid, "action"))
    assert set(_grid_cells(grid, "reason")) >= {"tighter after the market shift", "too noisy"}
    page.close()


def test_an_unknown_model_in_the_url_says_so_and_lists_the_models(browser: Browser, demo_url: str) -> None:
    from playwright.sync_api import expect

    for path in ("/model?model=nosuch", "/thresholds?model=nosuch"):
        page = _page(browser, demo_url + path)
        expect(page.get_by_text("No model named “nosuch”")).to_be_visible()
        _settle(page)
        text = page.locator("section.main, [data-testid='stMain']").first.inner_text()
        for name in ("Credit default risk", "Card fraud", "Home page recommendations", "Lead scoring"):
            assert name in text, (path, name)
        assert "Owner" not in text and "Monitor" not in text, path  # no other model's page behind it
        page.close()


def test_resolving_without_an_answer_stores_no_usefulness(
    browser: Browser, editor_url: str, editable: DataDir
) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{editor_url}/alerts")
    _sign_in(page)
    expect(page.get_by_role("button", name="Resolve").first).to_be_visible()
    _settle(page)
    page.get_by_role("textbox", name="Note or comment").first.fill("upstream fixed; no verdict on the alert")
    page.get_by_role("button", name="Resolve").first.click()
    _settle(page)
    settings = Settings(editable.settings)
    resolved = [i for i in list_incidents(settings) if i.get("resolved_by") == EDITOR[0]]
    assert len(resolved) == 1 and resolved[0]["state"] == "resolved"
    assert resolved[0]["useful"] is None  # not asked = not answered, never a silent "yes"
    page.close()


def test_cards_never_spark_label_coverage_beside_labels_so_far(browser: Browser, demo_url: str) -> None:
    page = _page(browser, demo_url)
    _settle(page)
    card = _cards(page)["Home page recommendations"]
    assert not re.search(r"label[_ ]coverage", card, re.I), card
    assert "Labels so far" in card and "of all predictions" in card
    page.close()


def test_status_is_the_worst_open_incident_else_watch(
    browser: Browser, demo_url: str, demo_data: DataDir
) -> None:
    page = _page(browser, demo_url)
    _settle(page)
    cards = _cards(page)
    incidents = [i for i in list_incidents(Settings(demo_data.settings)) if i["state"] != "resolved"]
    names = {
        r["model"]: r for r in Settings(demo_data.settings).query("SELECT model, display_name FROM models")
    }
    worst: dict[str, str] = {}
    for inc in incidents:
        name = names[inc["model"]]["display_name"]
        if worst.get(name) != "critical":
            worst[name] = inc["severity"]
    for name, text in cards.items():
        status = re.search(r"(Critical|Warning|Watch|Healthy|Not evaluated)", text)
        assert status, text
        want = worst.get(name)
        if want is not None:
            assert status.group(1).lower() == want, (name, text)
        else:
            assert status.group(1) == "Watch" and "limit" in text, (name, text)
    assert "Watch" in cards["Credit default risk"] and "Watch" in cards["Customer churn"]
    page.close()


def _contrast(fg: list[float], bg: list[float]) -> float:
    def lum(rgb: list[float]) -> float:
        c = [v / 255 for v in rgb[:3]]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLOURS_JS = """el => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const fg = rgb(getComputedStyle(el).color);
  let node = el, bg = [255, 255, 255, 1];
  while (node) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 4 ? c[3] > 0 : c.length === 3) {
      const a = c.length === 4 ? c[3] : 1;
      bg = [0, 1, 2].map(i => c[i] * a + 255 * (1 - a));
      break;
    }
    node = node.parentElement;
  }
  return {fg, bg};
}"""


def test_status_words_carry_their_colour_and_are_readable(browser: Browser, demo_url: str) -> None:
    page = _page(browser, demo_url)
    _settle(page)
    want = {"Critical": lambda r, g, b: r > g + 60 and r > b + 60, "Watch": lambda r, g, b: b > r + 40}
    for word, hue in want.items():
        el = page.get_by_text(re.compile(rf"{word}$")).first
        colours: dict[str, Any] = el.evaluate(COLOURS_JS)
        r, g, b = colours["fg"][:3]
        assert hue(r, g, b), (word, colours)
        assert _contrast(colours["fg"], colours["bg"]) >= 4.5, (word, colours)
    page.close()


def test_the_model_name_is_printed_once(browser: Browser, demo_url: str) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{demo_url}/model?model=fraud-detector")
    expect(page.get_by_text("Incident:").first).to_be_visible()
    _settle(page)
    text = page.locator("body").inner_text()
    assert "Card fraud: Card fraud" not in text
    assert re.search(r"Card fraud: \S", text)
    page.close()


def test_close_warning_and_critical_labels_do_not_overlap(browser: Browser, editor_url: str) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{editor_url}/thresholds?model=house-price")
    _sign_in(page)
    expect(page.get_by_role("spinbutton", name="Warning at")).to_be_enabled()
    for name, value in (("Warning at", "40000"), ("Critical at", "40100")):
        box = page.get_by_role("spinbutton", name=name)
        box.fill(value)
        box.press("Enter")
        _settle(page)
    labels = page.locator(".js-plotly-plot g.annotation")
    expect(labels.filter(has_text="critical")).to_be_visible()
    boxes = [labels.filter(has_text=w).first.bounding_box() for w in ("warning", "critical")]
    a, b = boxes
    assert a is not None and b is not None
    apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
    apart = apart or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
    assert apart, boxes
    page.close()


def test_data_quality_shows_the_latest_window_only(browser: Browser, demo_url: str) -> None:
    from playwright.sync_api import expect

    page = _page(browser, f"{demo_url}/model?model=house-price&tab=Diagnose")
    heading = page.get_by_text(re.compile(r"^Data quality \(latest window: \d{4}-\d{2}-\d{2}\)$"))
    expect(heading).to_be_visible()
    _settle(page)
    latest = re.findall(r"\d{4}-\d{2}-\d{2}", heading.inner_text())[0]
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text="out_of_range_share")
    expect(grid).to_be_visible()
    starts = _grid_cells(grid, "window_start")
    assert starts and all(s.startswith(latest) for s in starts), (latest, starts)
    page.close()
