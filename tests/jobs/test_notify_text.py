"""Notifications carry user text as text: real local receivers (webhook, SMTP) and the JSONL log.

A display name, an owner and a column name written as Markdown images and links, Slack links and
mentions, and a line break that would forge a line of the message.
"""

from __future__ import annotations

import email
import json
import re
from email import policy

from alerting_frames import day, frame, row

from duckwatch.alerting import alerts, notify
from duckwatch.config import DataDir
from duckwatch.store import alerting, catalog, routing
from duckwatch.store.settings import Settings
from tests.receivers import smtp_receiver, webhook_receiver

DISPLAY = "![d](http://127.0.0.1:9/display.png)\nOpen: http://phish.example/login"
OWNER = "<!channel> [owner](http://127.0.0.1:9/owner) ana@example.com"
COLUMN = "<http://127.0.0.1:9/col|click> www.evil.example"
WORD_JOINER = "\u2060"
UNESCAPED_LINK = r"(?<!\\)\]\("  # "](" as Markdown reads it: a link or an image


def _as_read(chat: str) -> str:
    """What a chat reader sees: Markdown escapes and Slack entities decoded, invisible joiners dropped."""
    text = re.sub(r"\\([\\\[\]])", r"\1", chat).replace("&lt;", "<").replace("&gt;", ">")
    return text.replace(WORD_JOINER, "")


def _critical_incident(settings: Settings) -> None:
    catalog.ensure_model(settings, "churn", display_name=DISPLAY, owner=OWNER)
    info = catalog.get_model(settings, "churn")
    assert info is not None
    alerting.create_threshold(
        settings, actor="ana", role="editor", reason="SLA", model="churn", metric="accuracy", kind="absolute",
        direction="below", warning=0.8, critical=0.7,
    )  # fmt: skip
    res = frame(
        [
            row(0, "performance", "accuracy", 0.61),
            row(0, "drift", "psi", 0.5, col=COLUMN, threshold=0.1, status="critical"),
        ]
    )
    alerts.evaluate_and_alert(settings, info, res, frame([]), now=day(1), notify=True)


def test_webhook_email_and_log_show_user_text_as_text(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    with webhook_receiver() as hook, smtp_receiver() as mailbox:
        routing.set_channels(
            settings, "churn",
            [
                {"kind": "webhook", "target": hook.url},
                {"kind": "email", "target": "oncall@example.com",
                 "config": {"host": "127.0.0.1", "port": mailbox.port}},
                {"kind": "log", "target": "alerts.jsonl"},
            ],
            actor="ana", role="editor", reason="route churn alerts",
        )  # fmt: skip
        _critical_incident(settings)
        report = notify.deliver_outbox(settings, None, day(1))
        assert (report.sent, report.failed) == (3, 0)

    [payload] = hook.received
    text = str(payload["text"])
    assert payload["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    # No Markdown image or link, no Slack link or mention, no bare URL but the message's own link.
    assert "![" not in text and not re.search(UNESCAPED_LINK, text) and "<" not in text and ">" not in text
    urls = re.findall(r"\S+://\S+|www\.\S+", text)
    assert urls == ["http://127.0.0.1:8501/model?model=churn&tab=overview"], urls
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("Open:")] == [
        "Open: http://127.0.0.1:8501/model?model=churn&tab=overview"
    ]
    # The reader still sees every text as it was written (its line break as a space).
    read = _as_read(text)
    assert DISPLAY.replace("\n", " ") in read.splitlines()[0]
    assert f"Owner: {OWNER}" in read and COLUMN in read
    assert payload["display_name"] == DISPLAY and "chat_text" not in payload

    [raw_mail] = mailbox.messages
    mail = email.message_from_string(raw_mail, policy=policy.default)
    assert str(mail["Subject"]).startswith(f"[CRITICAL] {DISPLAY.replace(chr(10), ' ')}: accuracy moved")
    body = mail.get_content()
    assert f"Owner: {OWNER}" in body and COLUMN in body  # plain text: as written
    assert [line for line in body.splitlines() if line.startswith("Open:")] == [
        "Open: http://127.0.0.1:8501/model?model=churn&tab=overview"
    ]

    [line] = (data_dir.logs / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    logged = json.loads(line)
    assert logged["text"].splitlines() == body.splitlines() and "chat_text" not in logged


def test_the_digest_carries_the_chat_text_of_each_warning(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    with webhook_receiver() as hook:
        routing.set_channels(
            settings, "*", [{"kind": "webhook", "target": hook.url}], actor="a", role="admin", reason="route"
        )
        catalog.ensure_model(settings, "churn", display_name=DISPLAY, owner=OWNER)
        info = catalog.get_model(settings, "churn")
        assert info is not None
        alerting.create_threshold(
            settings, actor="pm", role="editor", reason="floor", model="churn", family="kpi", metric="revenue",
            kind="absolute", direction="below", warning=100.0, critical=10.0,
        )  # fmt: skip
        alerts.evaluate_and_alert(
            settings, info, frame([row(0, "kpi", "revenue", 50.0)]), frame([]), now=day(1), notify=True
        )
        assert notify.send_digest(settings, day(2)).sent == 1
    [payload] = hook.received
    text = str(payload["text"])
    assert text.startswith("[DIGEST] 1 warning(s)")
    assert "![" not in text and not re.search(UNESCAPED_LINK, text) and "<" not in text
    assert DISPLAY.replace("\n", " ") in _as_read(text)
    assert all("chat_text" not in item for item in payload["digest"])  # type: ignore[union-attr]
