"""Monitors as code: validate with file:line: field, apply (managed in code), export round trip."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from duckwatch.alerting import monitors
from duckwatch.config import DataDir
from duckwatch.readmodels import app_views
from duckwatch.store import alerting, catalog, routing
from duckwatch.store.secrets import Resolver, SecretStore
from duckwatch.store.settings import Settings
from tests.conftest import run_cli

GOOD = """\
model: churn
display_name: Churn predictor
owner: ana@example.com
purpose: Flags customers likely to leave next month
timezone: Europe/Paris
window: day
label_horizon_hours: 72
columns:
  income: {role: feature, dtype: numeric}
  region: {role: segment, dtype: categorical}
thresholds:
  - metric: accuracy
    kind: absolute
    direction: below
    warning: 0.8
    critical: 0.7
    persist_n: 3
    persist_m: 5
  - family: drift
    column: income
    kind: status
    policy: page
channels:
  - kind: webhook
    target: http://127.0.0.1:9/hook
"""

BAD = GOOD.replace("    kind: absolute\n", "    kind: absolut\n").replace("window: day", "window: fortnight")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_export_apply_export_is_identical(data_dir: DataDir, tmp_path: Path) -> None:
    settings = Settings(data_dir.settings)
    assert monitors.validate(_write(tmp_path, "churn.yaml", GOOD)) == []
    applied = monitors.apply(settings, tmp_path / "churn.yaml", actor="ana")
    assert len(applied) == 2 and all(t.managed_in_code for t in applied)
    info = catalog.get_model(settings, "churn")
    assert info is not None and (info.display_name, info.timezone, info.label_horizon_hours) == (
        "Churn predictor", "Europe/Paris", 72.0,
    )  # fmt: skip
    assert {c.name: c.role for c in catalog.get_columns(settings, "churn")} == {
        "income": "feature",
        "region": "segment",
    }
    # An edit made in the app (forced, because the threshold is managed in code) is written back by export.
    accuracy = next(t for t in applied if t.metric == "accuracy")
    alerting.update_threshold(
        settings, accuracy.id, actor="pm", role="editor", reason="too noisy", force=True, warning=0.78
    )
    first = monitors.export(settings, "churn")
    assert "warning: 0.78" in first
    again = monitors.apply(settings, _write(tmp_path, "exported.yaml", first), actor="ana")
    assert monitors.export(settings, "churn") == first
    assert [t.id for t in again] == [t.id for t in applied]  # same rows, updated in place
    # The webhook's path is a secret: the row (and the export) keep a reference, resolved at send time.
    [channel] = routing.list_channels(settings, "churn")
    assert channel.target == "http://127.0.0.1:9/${secret:churn.webhook1.target}"
    assert Resolver(SecretStore.beside(settings.path)).text(channel.target) == "http://127.0.0.1:9/hook"


def test_malformed_file_names_file_line_and_field_and_changes_nothing(
    data_dir: DataDir, tmp_path: Path
) -> None:
    settings = Settings(data_dir.settings)
    path = _write(tmp_path, "bad.yaml", BAD)
    errors = monitors.validate(path)
    assert f"{path}:6: window: 'fortnight' is not hour, day, week, month or rows:N" in errors
    assert any(e.startswith(f"{path}:13: thresholds[0].kind: 'absolut' is not one of") for e in errors)
    before = settings.query("SELECT count(*) AS n FROM audit")[0]["n"]
    with pytest.raises(monitors.MonitorFileError, match="nothing changed"):
        monitors.apply(settings, path, actor="ana")
    assert catalog.get_model(settings, "churn") is None
    assert settings.query("SELECT count(*) AS n FROM audit")[0]["n"] == before
    syntax = monitors.validate(_write(tmp_path, "syntax.yaml", "model: churn\nthresholds: [\n  - oops: {\n"))
    assert len(syntax) == 1 and syntax[0].startswith(f"{tmp_path / 'syntax.yaml'}:") and "(yaml)" in syntax[0]
    inconsistent = GOOD.replace("critical: 0.7", "critical: 0.9")
    [err] = monitors.validate(_write(tmp_path, "inc.yaml", inconsistent))
    assert err.startswith(
        f"{tmp_path / 'inc.yaml'}:12: thresholds[0]: critical 0.9 must be beyond warning 0.8"
    )


def test_editing_a_managed_threshold_warns_unless_forced(data_dir: DataDir, tmp_path: Path) -> None:
    settings = Settings(data_dir.settings)
    [t, _] = monitors.apply(settings, _write(tmp_path, "churn.yaml", GOOD), actor="ana")
    with pytest.raises(alerting.ManagedInCodeError) as info:
        alerting.update_threshold(settings, t.id, actor="pm", role="editor", reason="tweak", warning=0.75)
    assert isinstance(info.value, UserWarning) and "managed in a monitors file" in str(info.value)
    assert alerting.get_threshold(settings, t.id).warning == 0.8


def test_apply_with_any_actor_also_records_the_os_user(data_dir: DataDir, tmp_path: Path) -> None:
    # `--actor` is a name anyone can type: the audit row keeps who really ran the command as well.
    path = _write(tmp_path, "churn.yaml", GOOD)
    done = run_cli(data_dir, "monitors", "apply", str(path), "--actor", "the-ceo")
    assert done.returncode == 0, done.stderr
    me = getpass.getuser()
    assert f"audited as the-ceo, OS user {me}" in done.stdout
    rows = Settings(data_dir.settings).query(
        "SELECT actor, os_user, action FROM audit WHERE action LIKE 'threshold.%'"
    )
    assert rows and all((r["actor"], r["os_user"]) == ("the-ceo", me) for r in rows)
    log = app_views.audit_log(data_dir, actor="the-ceo")
    assert list(log.columns[:4]) == ["id", "at", "actor", "os_user"]
    assert set(log["os_user"]) == {me}
