"""The HTML report: sections, numbers equal to the export, escaping, the period filter and the CLI."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels import report_cli
from duckwatch.readmodels.report import build_report, period_bounds
from duckwatch.readmodels.views import export_frame
from duckwatch.store.alerting import create_threshold
from duckwatch.store.settings import Settings
from tests.conftest import make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)
EVIL = "<script>alert('x')</script> & co"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """Three days of a classifier with labels, a sensitive column, and an audited threshold change."""
    rng = np.random.default_rng(20261123)
    data = DataDir(tmp_path_factory.mktemp("report") / "data").ensure()
    ref = make_predictions(rng, 2000, prefix="ref")
    ref["label"] = (rng.uniform(size=len(ref)) < ref["score"]).astype(int)
    cur = make_predictions(rng, 3 * 720, start="2026-01-01", freq="2min")
    out = pd.DataFrame(
        {"request_id": cur["request_id"], "label": (rng.uniform(size=len(cur)) < cur["score"]).astype(int)}
    )
    with Collector(data.root) as c:
        c.declare(
            "m", display_name=EVIL, owner="ann <ann@x>", purpose="credit decisions", sensitive=["region"]
        )
        c.log_reference("m", ref.drop(columns=["request_id", "ts"]))
        c.log_predictions("m", cur)
        c.log_outcomes("m", out)
    create_threshold(
        Settings(data.settings),
        actor="ann",
        role="editor",
        reason="tighter <b>after</b> review",
        model="m",
        family="performance",
        metric="accuracy",
        kind="absolute",
        direction="below",
        warning=0.9,
    )
    run_tick(data, now=NOW, notify=False)
    return data


class _Checker(HTMLParser):
    """Collects tags and headings; a well-formed report has no script or external asset."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.h2: list[str] = []
        self.srcs: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href")]
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def _parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    return checker


def test_report_has_every_section_and_no_script(built: DataDir) -> None:
    html = build_report(built, "m", date(2026, 1, 1), date(2026, 1, 3), now=NOW)
    parsed = _parse(html)
    headings = " | ".join(parsed.h2)
    for section in (
        "Summary",
        "Model card",
        "Headline performance",
        "Drift",
        "Fairness",
        "Incidents",
        "Alerts",
    ):
        assert section in headings
    assert "Threshold changes" in headings
    assert "script" not in parsed.tags and not parsed.srcs  # self-contained, nothing to fetch
    assert "@media print" in html
    assert "generated 2026-03-01T00:00:00+00:00, period 2026-01-01–2026-01-03, data as of " in html
    assert "credit decisions" in html and "region" in html and "sensitive" in html


def test_user_text_is_escaped(built: DataDir) -> None:
    html = build_report(built, "m", None, None, now=NOW)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html
    assert "ann &lt;ann@x&gt;" in html
    assert (
        "tighter &lt;b&gt;after&lt;/b&gt; review" in html
    )  # the threshold change's reason, from the audit log


def test_numbers_equal_the_export(built: DataDir) -> None:
    frame = export_frame(built, "metrics", "m")
    html = build_report(built, "m", date(2026, 1, 2), date(2026, 1, 2), now=NOW)
    row = frame[
        (frame["metric"] == "accuracy") & (frame["window_start"] == pd.Timestamp("2026-01-02", tz="UTC"))
    ]
    assert len(row) == 1
    value, lower, upper = (float(row[k].iloc[0]) for k in ("value", "lower", "upper"))
    assert f'<td class="num">{value:.4f}</td><td class="num">{lower:.4f} – {upper:.4f}</td>' in html
    # only the one day of the period: the other windows' accuracy is not in the headline table
    other = frame[(frame["metric"] == "accuracy") & (frame["window_start"] != row["window_start"].iloc[0])]
    assert all(f">{v:.4f}<" not in html for v in other["value"])
    assert "(1 windows)" in html
    # fairness warnings show as icon + word, never colour alone
    fair = frame[(frame["family"] == "fairness") & (frame["window_start"] == row["window_start"].iloc[0])]
    assert len(re.findall("fairness", html)) >= len(fair)
    if (fair["status"] == "warning").any():
        assert "⚠ Warning" in html


def test_period_outside_the_data_is_empty_but_valid(built: DataDir) -> None:
    html = build_report(built, "m", date(2025, 1, 1), date(2025, 1, 31), now=NOW)
    assert "No performance, estimate or KPI results in this period." in html
    assert "No threshold changes in this period." in html  # the change happened later (real clock)


def test_bad_inputs_say_what_to_do(built: DataDir) -> None:
    with pytest.raises(BadInputError, match="swap"):
        period_bounds(date(2026, 1, 3), date(2026, 1, 1))
    with pytest.raises(BadInputError, match="not registered"):
        build_report(built, "nope", None, None, now=NOW)
    with pytest.raises(BadInputError, match="invalid model name"):
        build_report(built, "../etc", None, None, now=NOW)


def test_cli_writes_the_file(built: DataDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    report_cli.add_parser(sub, lambda p: p.add_argument("--data-dir", default=None))
    out = tmp_path / "m.html"
    args = parser.parse_args(
        ["report", "--model", "m", "--from", "2026-01-01", "--to", "2026-01-02", "--out", str(out), "--data-dir",
         str(built.root)]
    )  # fmt: skip
    assert report_cli.handle(args) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "period 2026-01-01–2026-01-02" in text
    assert str(out) in capsys.readouterr().out
    args.model = "nope"
    assert report_cli.handle(args) == 2
    assert "not registered" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "--model", "m", "--from", "01/02/2026", "--out", str(out)])


def test_incidents_alerts_and_changes_are_listed(built: DataDir) -> None:
    html = build_report(built, "m", None, None, now=NOW)
    section = html[html.index("<h2>Alerts</h2>") :]
    assert "performance/accuracy" in section and '<td class="num">0.9000</td>' in section  # bound = threshold
    assert "Accuracy fell to" in html[html.index("<h2>Incidents</h2>") :]  # the title in words
    assert "threshold.create" in html[html.index("<h2>Threshold changes</h2>") :]
    assert "1 incidents, 1 alerts, 1 threshold changes" in html


def test_model_page_offers_the_download(built: DataDir, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(built.root))
    st.cache_data.clear()
    main = Path(__file__).resolve().parents[2] / "src" / "duckwatch" / "ui" / "main.py"
    at = AppTest.from_file(str(main), default_timeout=60)
    at.query_params["model"] = "m"
    at.run()
    at.switch_page("screens/model.py").run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = at.get("download_button")
    assert any("Download report" in str(b.proto.label) for b in buttons)
