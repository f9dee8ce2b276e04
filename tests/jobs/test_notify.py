"""Notifications reach real local receivers (HTTP webhook, SMTP, JSONL log); failures retry and record."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pandas as pd
import pytest
from alerting_frames import day, frame, model, row

from duckwatch.alerting import alerts, notify
from duckwatch.config import DataDir
from duckwatch.store import alert_state, alerting, routing
from duckwatch.store.settings import Settings
from tests.receivers import Mailbox, smtp_receiver


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(server: socketserver.BaseServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def webhook() -> Iterator[int]:
    _Hook.received = []
    yield from _serve(HTTPServer(("127.0.0.1", 0), _Hook))


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_receiver() as box:
        yield box


@pytest.fixture
def smtp(mailbox: Mailbox) -> int:
    return mailbox.port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _incident(settings: Settings, public_url: str = "") -> None:
    """A critical accuracy incident explained by drift in 'income'."""
    info = model(settings)
    alerting.create_threshold(
        settings, actor="ana", role="editor", reason="SLA", model="churn", metric="accuracy", kind="absolute",
        direction="below", warning=0.8, critical=0.7,
    )  # fmt: skip
    res = frame(
        [
            row(0, "performance", "accuracy", 0.61),
            row(0, "drift", "psi", 0.5, col="income", threshold=0.1, status="critical"),
            row(0, "kpi", "value_at_stake", 12500.0),
        ]
    )
    alerts.evaluate_and_alert(settings, info, res, frame([]), now=day(1), notify=True, public_url=public_url)


def test_webhook_email_and_log_receive_the_incident(
    data_dir: DataDir, webhook: int, smtp: int, mailbox: Mailbox
) -> None:
    settings = Settings(data_dir.settings)
    routing.set_channels(
        settings, "churn",
        [
            {"kind": "webhook", "target": f"http://127.0.0.1:{webhook}/hook"},
            {"kind": "email", "target": "oncall@example.com", "config": {"host": "127.0.0.1", "port": smtp}},
            {"kind": "log", "target": "alerts.jsonl"},
        ],
        actor="ana", role="editor", reason="route churn alerts",
    )  # fmt: skip
    _incident(settings, public_url="https://watch.example.com/")
    report = notify.deliver_outbox(settings, None, day(1))
    assert (report.sent, report.retried, report.failed) == (3, 0, 0)
    [payload] = _Hook.received
    text = payload["text"]
    for needle in ("Churn predictor", "accuracy", "0.61", "critical bound 0.7", "2026-01-01 00:00 UTC",
                   "12,500.00", "input drift in column 'income'", "ana@example.com",
                   "https://watch.example.com/model?model=churn&tab=overview"):  # fmt: skip
        assert needle in text, needle
    assert payload["blocks"][0]["text"]["text"] == text
    assert payload["display_name"] == "Churn predictor" and payload["owner"] == "ana@example.com"
    assert payload["alerts"][0]["value"] == 0.61
    [mail] = mailbox.messages
    assert "Subject: [CRITICAL] Churn predictor: accuracy moved" in mail and "ana@example.com" in mail
    [line] = (data_dir.logs / "alerts.jsonl").read_text().splitlines()
    assert json.loads(line)["link"] == "https://watch.example.com/model?model=churn&tab=overview"
    assert {r["state"] for r in alert_state.outbox(settings)} == {"sent"}
    assert notify.deliver_outbox(settings, None, day(2)).sent == 0  # delivered once, not again


def test_receiver_down_retries_with_backoff_then_records_failure(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    routing.set_channels(
        settings, "*", [{"kind": "webhook", "target": f"http://127.0.0.1:{_free_port()}/down"}],
        actor="ana", role="editor", reason="default route",
    )  # fmt: skip
    _incident(settings)
    now = day(1)
    first = notify.deliver_outbox(settings, None, now)
    assert (first.sent, first.retried) == (0, 1)
    [msg] = alert_state.outbox(settings)
    assert msg["state"] == "pending" and msg["attempts"] == 1 and "Connection refused" in msg["last_error"]
    assert notify.deliver_outbox(settings, None, now + timedelta(seconds=30)).retried == 0  # backing off
    for _ in range(10):
        now += timedelta(hours=2)
        notify.deliver_outbox(settings, None, now)
    [msg] = alert_state.outbox(settings)
    assert msg["state"] == "failed" and msg["attempts"] == notify.MAX_ATTEMPTS


def test_digest_bundles_pending_warnings(data_dir: DataDir, webhook: int) -> None:
    settings = Settings(data_dir.settings)
    routing.set_channels(
        settings, "*", [{"kind": "webhook", "target": f"http://127.0.0.1:{webhook}/"}], actor="a", role="admin",
        reason="route",
    )  # fmt: skip
    info = model(settings)
    for metric in ("revenue", "margin"):
        alerting.create_threshold(
            settings, actor="pm", role="editor", reason="floor", model="churn", family="kpi", metric=metric,
            kind="absolute", direction="below", warning=100.0, critical=10.0,
        )  # fmt: skip
    history = frame([])
    for i, metric in enumerate(
        ("revenue", "margin")
    ):  # two separate incidents (different days, both warnings)
        res = frame([row(2 * i, "kpi", metric, 50.0)])
        summary = alerts.evaluate_and_alert(settings, info, res, history, now=day(2 * i + 1), notify=True)
        history = pd.concat([history, summary.results], ignore_index=True)
    assert notify.deliver_outbox(settings, None, day(4)).sent == 0  # warnings wait for the digest
    assert notify.send_digest(settings, day(4)).sent == 1
    [payload] = _Hook.received
    assert payload["text"].startswith("[DIGEST] 2 warning(s)") and len(payload["digest"]) == 2
