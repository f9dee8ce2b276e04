"""Real browser on `duckwatch demo`: words instead of metric ids, and one timeline per incident.

Words: no metric id (as a whole word) in the visible text of the portfolio, every model's overview and the
alerts page. Timeline: every demo incident's started / detected / acknowledged / resolved dates on the
portfolio, model and alerts pages, and in the report, equal those `duckwatch alerts` prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from duckwatch.config import DataDir
from duckwatch.metrics.registry import load_builtins
from duckwatch.readmodels.metric_words import JOB_METRICS
from duckwatch.readmodels.report import build_report
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from tests.ui.test_browser import REPO, _settle
from tests.ui.test_browser_demo import _cards, _page, browser, demo_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
__all__ = ["browser", "demo_url"]  # fixtures shared with test_browser_demo


def _models(data: DataDir) -> list[str]:
    return [m.model for m in catalog.list_models(Settings(data.settings))]


def _ids(data: DataDir) -> set[str]:
    """Every metric id the demo wrote, every registered one and every one the job names itself."""
    ids = {m.name for m in load_builtins()} | set(JOB_METRICS)
    for model in _models(data):
        ids |= set(export_frame(data, "metrics", model)["metric"])
    return ids


def _text(page: Page) -> str:
    _settle(page)
    return page.locator("[data-testid='stMain']").first.inner_text()


def _ids_in(text: str, ids: set[str]) -> list[str]:
    return sorted(i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text))


def test_no_metric_id_in_the_portfolio_overviews_and_alerts(
    browser: Any, demo_url: str, demo_data: DataDir
) -> None:
    from playwright.sync_api import expect

    ids = _ids(demo_data)
    assert {"roc_auc", "label_coverage_at_age", "wasserstein_norm", "ks"} <= ids
    page = _page(browser, demo_url)
    expect(page.get_by_role("button", name="Open").first).to_be_visible()
    seen = {"portfolio": _text(page)}
    page.close()
    for model in _models(demo_data):
        page = _page(browser, f"{demo_url}/model?model={model}")
        expect(page.get_by_text("Metrics over time")).to_be_visible()
        page.wait_for_selector(".js-plotly-plot")
        seen[model] = _text(page)
        page.close()
    page = _page(browser, f"{demo_url}/alerts")
    expect(page.get_by_text("Alerts and comments in this incident").first).to_be_visible()
    seen["alerts"] = _text(page)
    page.close()
    found = {where: _ids_in(text, ids) for where, text in seen.items()}
    assert found == {where: [] for where in seen}
    assert "Ranking quality (ROC AUC)" in seen["portfolio"] and "Labels arriving on time" in seen["alerts"]


def _cli_timelines(data: DataDir) -> dict[int, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "duckwatch.cli", "alerts", "--format", "json", "--data-dir", str(data.root)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {int(i["id"]): i for i in json.loads(out.stdout)}


def _line(t: dict[str, str]) -> str:
    return (
        f"Started {t['started']} · detected {t['detected']} · acknowledged {t['acknowledged']} · "
        f"resolved {t['resolved']}"
    )


def test_incident_dates_on_every_page_equal_the_clis(browser: Any, demo_url: str, demo_data: DataDir) -> None:
    from playwright.sync_api import expect

    cli = _cli_timelines(demo_data)
    assert len(cli) == 5 and {i["state"] for i in cli.values()} == {"open", "resolved"}
    lines = {iid: _line(i["timeline"]) for iid, i in cli.items()}
    durations = {
        iid: f"Time to detect: {i['timeline']['time_to_detect']} · time to resolve: {i['timeline']['time_to_resolve']}"
        for iid, i in cli.items()
    }
    for state in ("open", "resolved"):
        page = _page(browser, f"{demo_url}/alerts")
        expect(page.get_by_text("Started ").first).to_be_visible()
        if state != "open":
            page.locator('[data-testid="stButtonGroup"]').get_by_text(state, exact=True).click()
            _settle(page)
        text = _text(page)
        page.close()
        for iid, inc in cli.items():
            if inc["state"] == state:
                assert lines[iid] in text and durations[iid] in text, (state, iid, lines[iid])
    names = {m.model: m.display_name for m in catalog.list_models(Settings(demo_data.settings))}
    page = _page(browser, demo_url)
    cards = _cards(page)
    page.close()
    for iid, inc in cli.items():
        model = inc["model"]
        if inc["state"] == "resolved":
            continue
        assert lines[iid] in cards[names[model]], (model, lines[iid])
        page = _page(browser, f"{demo_url}/model?model={model}")
        expect(page.get_by_text("Incident:").first).to_be_visible()
        text = _text(page)
        page.close()
        assert lines[iid] in text and durations[iid] in text, (model, lines[iid])
        assert f"since {inc['timeline']['started']}" in text  # the status line: the same start
    for iid, inc in cli.items():
        html = build_report(demo_data, inc["model"], None, None, now=datetime.now(UTC))
        for moment in ("started", "detected", "acknowledged", "resolved", "time_to_detect"):
            assert f"<td>{inc['timeline'][moment]}</td>" in html, (iid, moment)
