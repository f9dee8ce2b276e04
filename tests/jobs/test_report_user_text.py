"""`duckwatch report` (a real CLI process) shows names, purposes and column names written as Markdown or
HTML as text: the page it writes has no image, link or other reference to what they point at."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store.alerting import create_threshold
from duckwatch.store.settings import Settings
from tests.conftest import CLI

BASE = "http://127.0.0.1:9"
TEXTS = {
    "display_name": f"![d]({BASE}/display.png)",
    "owner": f"[owner]({BASE}/owner) <img src={BASE}/owner.png>",
    "purpose": f'<a href="{BASE}/purpose">purpose</a> {BASE}/bare',
}
COLUMN = f'<img src="{BASE}/column.png"> ![c]({BASE}/column.png)'


class _Page(HTMLParser):
    """The tags, every attribute value and the text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [v or "" for _, v in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _planted(root: Path) -> DataDir:
    data = DataDir(root).ensure()
    create_threshold(
        Settings(data.settings), actor="test", role="admin", reason="fixture", model="m", family="volume",
        metric="row_count", kind="absolute", direction="below", warning=5000, critical=1000,
    )  # fmt: skip
    rng = np.random.default_rng(3)

    def frame(start: str, shift: float) -> pd.DataFrame:
        n = 2160
        return pd.DataFrame(
            {
                "request_id": [f"{start}-{i}" for i in range(n)],
                "ts": pd.date_range(start, periods=n, freq="2min", tz="UTC"),
                COLUMN: rng.normal(shift, 1.0, n),
                "score": rng.random(n),
            }
        )

    with Collector(data.root) as c:
        c.declare("m", **TEXTS)
        c.log_reference("m", frame("2025-12-01", 0.0), id="request_id", timestamp="ts")
        c.log_predictions("m", frame("2026-01-01", 3.0), id="request_id", timestamp="ts")
    assert run_tick(data, now=datetime(2026, 1, 8, tzinfo=UTC), notify=False).errors == []
    return data


def test_report_shows_user_markup_as_text_and_refers_to_nothing(tmp_path: Path) -> None:
    data = _planted(tmp_path / "data")
    out = tmp_path / "report.html"
    done = subprocess.run(
        [*CLI, "report", "--model", "m", "--out", str(out), "--data-dir", str(data.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.tags.isdisjoint({"img", "a", "script", "iframe", "object", "link", "svg"}), page.tags
    assert [v for v in page.attributes if BASE in v] == []
    text = "".join(page.text)
    for value in [*TEXTS.values(), COLUMN]:
        assert value in text, value  # the incident title and the findings hold the name and the column
    assert text.count(TEXTS["display_name"]) >= 2 and text.count(COLUMN) >= 2
