"""Notifications: messages built from incidents, an outbox delivered at least once, three channels."""

from __future__ import annotations

import json
import smtplib
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from duckwatch.errors import DuckwatchError
from duckwatch.safe_text import chat_literal, one_line
from duckwatch.store import alert_state
from duckwatch.store.catalog import ModelInfo
from duckwatch.store.routing import list_channels
from duckwatch.store.secrets import MASK, Resolver, SecretStore, split_url
from duckwatch.store.settings import Settings

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "EmailChannel",
    "LogChannel",
    "Message",
    "Sender",
    "WebhookChannel",
    "build_message",
    "default_channels",
    "deliver_outbox",
    "enqueue_incident",
    "send_digest",
]

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8501"
# The message text as chat markup (user text made inert), kept among the fields for the webhook channel.
CHAT_TEXT = "chat_text"
MAX_ATTEMPTS = 5
BACKOFF_S = 60.0
BACKOFF_MAX_S = 3600.0


@dataclass(frozen=True)
class Message:
    """What one notification says: a subject, plain text, and structured fields.

    ``fields[CHAT_TEXT]``, when present, is ``text`` rendered for chat (see ``WebhookChannel``).
    """

    subject: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


class Sender(Protocol):
    """A channel: deliver a message to a target, or raise (target and config arrive resolved)."""

    def send(self, target: str, config: Mapping[str, Any], message: Message) -> None: ...


def _structured(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != CHAT_TEXT}


def _chat_text(message: Message) -> str:
    """The message as Slack mrkdwn / Markdown in which user text cannot link, mention or fetch."""
    chat = message.fields.get(CHAT_TEXT)
    if isinstance(chat, str) and chat:
        return chat
    # A message queued without one (before this version): every line made inert, ours included.
    return "\n".join(chat_literal(line) for line in message.text.splitlines())


class WebhookChannel:
    """POST JSON: Slack-compatible ``text`` and ``blocks`` plus the structured fields.

    The text is chat markup in which names, columns and causes are text only (no link, mention,
    image or HTML), and previews of links are off: nothing is fetched because of a message.
    """

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def send(self, target: str, config: Mapping[str, Any], message: Message) -> None:
        """POST the message; any non-2xx answer or connection error raises."""
        text = _chat_text(message)
        payload = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            "unfurl_links": False,
            "unfurl_media": False,
            **_structured(message.fields),
        }
        req = urllib.request.Request(
            target,
            data=json.dumps(payload, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json", **dict(config.get("headers") or {})},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=self.timeout_s) as resp:
            if not 200 <= resp.status < 300:
                raise OSError(f"webhook {split_url(target)[0] or MASK}… answered HTTP {resp.status}")


class EmailChannel:
    """Plain SMTP (host/port/sender from the channel config; no TLS unless ``starttls`` is set)."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def send(self, target: str, config: Mapping[str, Any], message: Message) -> None:
        """Send one e-mail to ``target`` (comma-separated addresses allowed)."""
        mail = EmailMessage()
        mail["Subject"] = one_line(message.subject)  # a line break in a header is refused
        mail["From"] = str(config.get("sender", "duckwatch@localhost"))
        mail["To"] = target
        mail.set_content(message.text)
        host, port = str(config.get("host", "127.0.0.1")), int(config.get("port", 25))
        with smtplib.SMTP(host, port, timeout=self.timeout_s) as smtp:
            if config.get("starttls"):
                smtp.starttls()
            if config.get("user"):
                smtp.login(str(config["user"]), str(config.get("password", "")))
            smtp.send_message(mail)


class LogChannel:
    """Append one JSON line per message to a file under the data dir's ``logs/``."""

    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir

    def send(self, target: str, config: Mapping[str, Any], message: Message) -> None:
        """Append the message as JSON (file name only: the log stays inside logs/)."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.logs_dir / Path(target).name
        entry = {"subject": message.subject, "text": message.text, **_structured(message.fields)}
        line = json.dumps(entry, default=str)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def default_channels(settings: Settings) -> dict[str, Sender]:
    """The built-in senders; the log channel writes next to the settings file, in ``logs/``."""
    return {
        "webhook": WebhookChannel(),
        "email": EmailChannel(),
        "log": LogChannel(settings.path.parent / "logs"),
    }


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4g}"


def build_message(
    model: ModelInfo,
    incident: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    value_at_stake: str,
    public_url: str = "",
) -> Message:
    """Name the model, say what moved vs normal and since when, value at stake, cause, owner, link.

    Text from users (names, columns, segments, the cause, the owner) is kept on its line in ``text``
    (e-mail, log) and made inert for chat in ``fields[CHAT_TEXT]`` (webhook).
    """
    base = (public_url or DEFAULT_PUBLIC_URL).rstrip("/")
    link = f"{base}/model?model={quote(model.model)}&tab=overview"
    name = model.display_name or model.model
    paging = [a for a in alerts if a["policy"] == "page"] or list(alerts)
    cause = incident["likely_cause"] or "no input drift or data-quality change found in the same windows"
    owner = model.owner or "no owner set (add one in the model settings)"

    def render(user: Callable[[object], str]) -> tuple[str, str]:
        lines = []
        for a in paging:
            where = f" on {user(a['col'])}" if a["col"] not in ("", "*") else ""
            seg = f" (segment {user(a['segment'])})" if a["segment"] not in ("", "*", "all") else ""
            normal = f"normal ≈ {_num(a['baseline'])}, " if a["baseline"] is not None else ""
            lines.append(
                f"- {user(a['metric'])}{where}{seg} is {_num(a['value'])} ({normal}{a['severity']} bound "
                f"{_num(a['bound'])}) since {_when(a['since'])}"
            )
        more = f" (+{len(paging) - 1} more)" if len(paging) > 1 else ""
        subject = (
            f"[{str(incident['severity']).upper()}] {user(name)}: {user(paging[0]['metric'])} moved{more}"
        )
        text = "\n".join(
            [
                f"{subject} — incident #{incident['id']}",
                *lines,
                f"Since: {_when(incident['since'])}",
                f"Value at stake: {value_at_stake}",
                f"Likely cause: {user(cause)}",
                f"Owner: {user(owner)}",
                f"Open: {link}",
            ]
        )
        return subject, text

    subject, text = render(one_line)
    fields = {
        "model": model.model,
        "display_name": name,
        "severity": incident["severity"],
        "incident_id": incident["id"],
        "since": incident["since"],
        "alerts": [
            {k: a[k] for k in ("metric", "col", "segment", "value", "bound", "baseline", "severity", "since")}
            for a in paging
        ],
        "value_at_stake": value_at_stake,
        "likely_cause": cause,
        "owner": owner,
        "link": link,
        CHAT_TEXT: render(chat_literal)[1],
    }
    return Message(subject, text, fields)


def enqueue_incident(
    settings: Settings,
    model: ModelInfo,
    incident: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    now: datetime,
    value_at_stake: str = "unknown",
    public_url: str = "",
) -> list[int]:
    """Put one message per channel of the model into the outbox (critical at once, warnings to digest)."""
    msg = build_message(model, incident, alerts, value_at_stake, public_url)
    channels = list_channels(settings, model.model)
    targets: list[tuple[int | None, str, str, dict[str, Any]]] = [
        (c.id, c.kind, c.target, c.config) for c in channels
    ] or [(None, "log", "alerts.jsonl", {})]
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds")
    mode = "immediate" if incident["severity"] == "critical" else "digest"
    rows = [
        {
            "incident_id": incident["id"],
            "model": model.model,
            "channel_id": cid,
            "channel_kind": kind,
            "target": target,
            "config": config,
            "severity": incident["severity"],
            "mode": mode,
            "subject": msg.subject,
            "body": msg.text,
            "payload": msg.fields,
            "next_attempt_at": stamp,
            "created_at": stamp,
        }
        for cid, kind, target, config in targets
    ]
    return alert_state.enqueue(settings, rows)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def _attempt(
    settings: Settings,
    senders: Mapping[str, Sender],
    resolver: Resolver,
    ids: list[int],
    kind: str,
    target: str,
    config: Mapping[str, Any],
    message: Message,
    attempts: int,
    now: datetime,
) -> str:
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds")
    sender = senders.get(kind)
    try:
        if sender is None:
            raise LookupError(f"no sender for channel kind {kind!r}")
        # References are resolved here, at send time only: the outbox keeps ${secret|env|file:…}.
        sender.send(resolver.text(target), resolver.tree(config), message)
    except Exception as exc:  # a channel failure must never crash the tick; it is recorded instead
        give_up = attempts + 1 >= MAX_ATTEMPTS
        delay = min(BACKOFF_S * 2**attempts, BACKOFF_MAX_S)
        next_at = (now + timedelta(seconds=delay)).astimezone(UTC).isoformat(timespec="microseconds")
        error = resolver.scrub(f"{type(exc).__name__}: {exc}")  # never a secret in the recorded error
        alert_state.mark_attempt_failed(settings, ids, error, next_at, give_up)
        return "failed" if give_up else "retried"
    alert_state.mark_sent(settings, ids, stamp)
    return "sent"


def deliver_outbox(
    settings: Settings, channels: Mapping[str, Sender] | None, now: datetime
) -> DeliveryReport:
    """Send every due immediate message; failures back off exponentially, then fail for good."""
    senders = channels if channels is not None else default_channels(settings)
    resolver = Resolver(SecretStore.beside(settings.path))
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds")
    counts = {"sent": 0, "retried": 0, "failed": 0}
    for row in alert_state.due_messages(settings, "immediate", stamp):
        msg = Message(row["subject"], row["body"], row["payload"])
        outcome = _attempt(
            settings,
            senders,
            resolver,
            [row["id"]],
            row["channel_kind"],
            row["target"],
            row["config"],
            msg,
            row["attempts"],
            now,
        )
        counts[outcome] += 1
    return DeliveryReport(**counts)


def send_digest(
    settings: Settings, now: datetime, channels: Mapping[str, Sender] | None = None
) -> DeliveryReport:
    """Bundle pending warnings into one message per channel target and send it (call once a day)."""
    senders = channels if channels is not None else default_channels(settings)
    resolver = Resolver(SecretStore.beside(settings.path))
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in alert_state.due_messages(settings, "digest", stamp):
        # Grouped by where the message really goes: two references to one URL make one digest.
        try:
            where = resolver.text(row["target"])
        except (DuckwatchError, OSError):
            where = row["target"]  # unresolvable: its own group, whose attempt records the error
        groups.setdefault((row["channel_kind"], where), []).append(row)
    counts = {"sent": 0, "retried": 0, "failed": 0}
    for (kind, _where), rows in groups.items():
        subject = f"[DIGEST] {len(rows)} warning(s) from duckwatch, {now.astimezone(UTC):%Y-%m-%d}"
        text = "\n\n".join([subject, *(r["body"] for r in rows)])
        parts = [Message(r["subject"], r["body"], r["payload"]) for r in rows]
        chat = "\n\n".join([subject, *(_chat_text(m) for m in parts)])
        msg = Message(subject, text, {"digest": [_structured(m.fields) for m in parts], CHAT_TEXT: chat})
        outcome = _attempt(
            settings,
            senders,
            resolver,
            [r["id"] for r in rows],
            kind,
            rows[0]["target"],
            rows[0]["config"],
            msg,
            max(r["attempts"] for r in rows),
            now,
        )
        counts[outcome] += 1
    return DeliveryReport(**counts)
