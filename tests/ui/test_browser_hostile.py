"""Real browser on hostile but ordinary input: an absurd event time and channel secrets in a monitors file."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.alerting import monitors
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store.settings import Settings
from tests.ui.test_browser import ARGS, CHROMIUM, _need_chromium, _settle, serving

pytestmark = pytest.mark.browser

PASSWORD = "hunter2-smtp-pass"
HOOK_TOKEN = "XyZ0aBcD1eFgH2iJkL3mNoP4"
MONITORS = f"""
model: fraud
display_name: Fraud model
channels:
  - kind: email
    target: oncall@example.com
    config: {{host: 127.0.0.1, port: 2525, user: alerts, password: {PASSWORD}}}
  - kind: webhook
    target: https://hooks.example.com/services/T000/B000/{HOOK_TOKEN}
"""


def _hostile_data_dir(root: Path) -> DataDir:
    data = DataDir(root).ensure()
    ts = pd.date_range("2026-01-01", periods=600, freq="10min", tz="UTC").astype(str).tolist()
    rows = [
        {"id": f"r{i}", "ts": t, "amount": float(i % 50), "score": (i % 10) / 10} for i, t in enumerate(ts)
    ]
    rows.append({"id": "far", "ts": "99999-01-01T00:00:00Z", "amount": 1.0, "score": 0.5})
    rows.append({"id": "past", "ts": "1900-01-01T00:00:00Z", "amount": 1.0, "score": 0.5})
    with Collector(data.root) as c:
        result = c.log_predictions("fraud", rows, idempotency_key="day-1")
    assert (result.landed, result.quarantined) == (600, 2)
    path = root.parent / "fraud.yaml"
    path.write_text(MONITORS, encoding="utf-8")
    monitors.apply(Settings(data.settings), path, actor="ana")
    report = run_tick(data, now=datetime(2026, 1, 6, tzinfo=UTC), notify=False)
    assert report.errors == []
    return data


def test_pages_survive_an_absurd_time_and_never_show_a_secret(tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    data = _hostile_data_dir(tmp_path / "data")
    with serving(data) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            for path, visible in (
                ("", "Fraud model"),
                ("/model?model=fraud", "Fraud model"),
                ("/audit", "entries"),
            ):
                page.goto(url + path)
                expect(page.get_by_text(re.compile(visible)).first).to_be_visible()
                _settle(page)
                assert page.locator('[data-testid="stException"]').count() == 0, path
                text = page.locator("body").inner_text()
                assert "Traceback" not in text and "toordinal" not in text, path
                assert PASSWORD not in text and HOOK_TOKEN not in text, path
            # The audit grid is drawn on a canvas: what an anonymous viewer can take away is its CSV.
            with page.expect_download() as download:
                page.get_by_role("button", name="Download CSV").first.click()
            audit_csv = Path(download.value.path()).read_text(encoding="utf-8")
            assert "channels.set" in audit_csv
            assert PASSWORD not in audit_csv and HOOK_TOKEN not in audit_csv
        finally:
            browser.close()
