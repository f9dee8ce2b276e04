"""Channel secrets: never in settings.sqlite, the audit log, the outbox or an export; resolved at send time."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from alerting_frames import day, frame, model, row

from duckwatch.alerting import alerts, monitors, notify
from duckwatch.config import DataDir
from duckwatch.store import alert_state, alerting, routing
from duckwatch.store.secrets import SecretStore
from duckwatch.store.settings import Settings
from tests.receivers import smtp_receiver, webhook_receiver

PASSWORD = "pw-Zq8-correct-horse-battery"
TOKEN = "tok8f3a9c2e71bd40"
HEADER = "hdr5e0c77aa19"

MONITORS = """\
model: churn
display_name: Churn predictor
channels:
  - kind: webhook
    target: {url}
    config:
      headers: {{Authorization: Bearer {header}}}
  - kind: email
    target: oncall@example.com
    config: {{host: 127.0.0.1, port: {port}, user: alerts, password: {password}}}
"""


def _incident(settings: Settings) -> None:
    """A critical accuracy incident for `churn` (its messages go to the outbox)."""
    info = model(settings)
    alerting.create_threshold(
        settings, actor="ana", role="editor", reason="SLA", model="churn", metric="accuracy", kind="absolute",
        direction="below", warning=0.8, critical=0.7,
    )  # fmt: skip
    res = frame([row(0, "performance", "accuracy", 0.61)])
    alerts.evaluate_and_alert(settings, info, res, frame([]), now=day(1), notify=True)


def _settings_bytes(data: DataDir) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data.root.glob("settings.sqlite*")))


def _everything_said(settings: Settings) -> str:
    audit = settings.query("SELECT before, after, reason FROM audit")
    outbox = settings.query("SELECT target, config, last_error FROM outbox")
    return json.dumps([audit, outbox, [c.__dict__ for c in routing.list_channels(settings)]])


def test_apply_moves_secrets_out_export_round_trips_and_delivery_resolves_them(
    data_dir: DataDir, tmp_path: Path
) -> None:
    settings = Settings(data_dir.settings)
    with webhook_receiver() as hook, smtp_receiver() as smtp:
        base = hook.url.rsplit("/", 1)[0]
        url = f"{base}/services/T0001/B0002/{TOKEN}?key={TOKEN}"
        path = tmp_path / "m.yaml"
        path.write_text(MONITORS.format(url=url, header=HEADER, port=smtp.port, password=PASSWORD))
        monitors.apply(settings, path, actor="ana")

        raw, said = _settings_bytes(data_dir), _everything_said(settings)
        for literal in (PASSWORD, TOKEN, HEADER):
            assert literal.encode() not in raw and literal not in said
        assert "${secret:churn.email1.password}" in said
        secret_file = data_dir.root / "secrets.json"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        stored = SecretStore(secret_file).load()
        assert stored == {
            "churn.email1.password": PASSWORD,
            "churn.webhook1.target": f"services/T0001/B0002/{TOKEN}?key={TOKEN}",
            "churn.webhook1.headers.Authorization": f"Bearer {HEADER}",
        }

        exported = monitors.export(settings, "churn")
        assert "password: ${secret:churn.email1.password}" in exported
        assert f"target: {base}/${{secret:churn.webhook1.target}}" in exported
        assert not any(literal in exported for literal in (PASSWORD, TOKEN, HEADER))
        again = tmp_path / "exported.yaml"
        again.write_text(exported)
        monitors.apply(settings, again, actor="ana")  # the references keep the stored secrets
        assert SecretStore(secret_file).load() == stored
        assert monitors.export(settings, "churn") == exported

        _incident(settings)
        report = notify.deliver_outbox(settings, None, day(1))
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    [(posted_path, headers)] = hook.requests
    assert posted_path == f"/services/T0001/B0002/{TOKEN}?key={TOKEN}"
    assert headers["Authorization"] == f"Bearer {HEADER}"
    assert smtp.logins == [("alerts", PASSWORD)] and len(smtp.messages) == 1
    said = _everything_said(settings)  # the outbox copied references, not values
    assert not any(literal in said for literal in (PASSWORD, TOKEN, HEADER))
    assert not any(literal.encode() in _settings_bytes(data_dir) for literal in (PASSWORD, TOKEN, HEADER))


def test_env_reference_resolves_at_send_time_and_is_never_stored(
    data_dir: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir.settings)
    monkeypatch.delenv("DW_HOOK_TOKEN", raising=False)
    with webhook_receiver() as hook:
        base = hook.url.rsplit("/", 1)[0]
        routing.set_channels(
            settings, "churn",
            [{"kind": "webhook", "target": f"{base}/hooks/${{env:DW_HOOK_TOKEN}}",
              "config": {"headers": {"X-Token": "${env:DW_HOOK_TOKEN}"}}}],
            actor="ana", role="editor", reason="route",
        )  # fmt: skip
        _incident(settings)
        first = notify.deliver_outbox(settings, None, day(1))  # not set yet: a clear, recorded error
        [msg] = alert_state.outbox(settings)
        assert first.retried == 1 and msg["state"] == "pending"
        assert "${env:DW_HOOK_TOKEN} is not set" in msg["last_error"]
        monkeypatch.setenv("DW_HOOK_TOKEN", TOKEN)
        assert notify.deliver_outbox(settings, None, day(2)).sent == 1
    [(posted_path, headers)] = hook.requests
    assert posted_path == f"/hooks/{TOKEN}" and headers["X-Token"] == TOKEN
    [channel] = routing.list_channels(settings, "churn")
    assert channel.target.endswith("/hooks/${env:DW_HOOK_TOKEN}")  # stored as written, not resolved
    assert TOKEN not in _everything_said(settings) and TOKEN.encode() not in _settings_bytes(data_dir)
    assert not (data_dir.root / "secrets.json").exists()  # nothing literal to move


def test_delivery_error_never_quotes_a_resolved_secret(
    data_dir: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir.settings)
    monkeypatch.setenv("DW_HOOK_URL", f"notaurl-{TOKEN}")  # urllib quotes a bad URL in its error
    routing.set_channels(
        settings, "churn", [{"kind": "webhook", "target": "${env:DW_HOOK_URL}"}],
        actor="ana", role="editor", reason="route",
    )  # fmt: skip
    _incident(settings)
    assert notify.deliver_outbox(settings, None, day(1)).retried == 1
    [msg] = alert_state.outbox(settings)
    assert "unknown url type" in msg["last_error"] and TOKEN not in msg["last_error"]


def test_reference_to_a_missing_secret_stops_apply_and_changes_nothing(
    data_dir: DataDir, tmp_path: Path
) -> None:
    settings = Settings(data_dir.settings)
    path = tmp_path / "m.yaml"
    text = MONITORS.format(url="https://hooks.example.com/${secret:nope}", header="x", port=25, password="y")
    path.write_text(text)
    with pytest.raises(monitors.MonitorFileError, match=r"(?s)nothing changed.*\$\{secret:nope\} is not in"):
        monitors.apply(settings, path, actor="ana")
    assert routing.list_channels(settings) == [] and settings.query("SELECT * FROM models") == []
    path.write_text(text.replace("${secret:nope}", "x").replace("password: y", "password: '***'"))
    with pytest.raises(monitors.MonitorFileError, match="masked value copied from the audit log"):
        monitors.apply(settings, path, actor="ana")
