"""Local users: salted scrypt hashes, constant-time verify, roles, audit; the users/monitors/alerts CLI."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from duckwatch import users_cli
from duckwatch.alerting import cli as alerting_cli
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError, PermissionDeniedError
from duckwatch.readmodels import alerts_cli
from duckwatch.store import users
from duckwatch.store.settings import Settings


def test_add_verify_roles_and_audit(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    users.add_user(settings, "ana", "correct horse", "editor", actor="root")
    users.add_user(settings, "vic", "another secret", "viewer", actor="root")
    assert users.verify(settings, "ana", "correct horse") == users.User(
        "ana", "editor", users.list_users(settings)[0].created_at
    )
    assert users.verify(settings, "ana", "wrong password") is None
    assert users.verify(settings, "nobody", "correct horse") is None
    row = settings.query("SELECT salt, pw_hash, kdf FROM users WHERE name = 'ana'")[0]
    assert len(row["salt"]) == 16 and len(row["pw_hash"]) == 32 and row["kdf"].startswith("scrypt:n=16384")
    other = settings.query("SELECT salt, pw_hash FROM users WHERE name = 'vic'")[0]
    assert other["salt"] != row["salt"]
    with pytest.raises(PermissionDeniedError):
        users.set_role(settings, "vic", "admin", actor="vic", actor_role="viewer", reason="promote myself")
    with pytest.raises(PermissionDeniedError):
        users.add_user(settings, "eve", "password123", "admin", actor="ana", actor_role="editor")
    with pytest.raises(BadInputError, match="already exists"):
        users.add_user(settings, "ana", "correct horse")
    users.set_role(settings, "vic", "editor", actor="root", actor_role="admin", reason="joined the team")
    assert [(u.name, u.role) for u in users.list_users(settings)] == [("ana", "editor"), ("vic", "editor")]
    audit = settings.query("SELECT actor, action, before, after, reason FROM audit WHERE target = 'vic'")
    assert audit[-1] == {
        "actor": "root", "action": "user.role", "before": json.dumps({"role": "viewer"}),
        "after": json.dumps({"role": "editor"}), "reason": "joined the team",
    }  # fmt: skip
    assert all("another secret" not in str(r) for r in settings.query("SELECT * FROM audit"))


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="duckwatch")
    sub = parser.add_subparsers(dest="cmd", required=True)

    def data_dir_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=None)

    alerting_cli.add_parsers(sub, data_dir_arg)
    users_cli.add_parsers(sub, data_dir_arg)
    alerts_cli.add_parser(sub, data_dir_arg)
    args = parser.parse_args(argv)
    return {**alerting_cli.HANDLERS, **users_cli.HANDLERS, "alerts": alerts_cli.handle}[args.cmd](args)


def test_cli_users_monitors_alerts(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(data_dir.root)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert _cli(["users", "add", "bob", "--role", "editor", "--password-stdin", "--data-dir", root]) == 0
    assert _cli(["users", "list", "--data-dir", root]) == 0
    assert "bob\teditor" in capsys.readouterr().out
    assert users.verify(Settings(data_dir.settings), "bob", "s3cret-pass") is not None
    good = tmp_path / "m.yaml"
    good.write_text(
        "model: churn\nowner: bob\nthresholds:\n  - metric: f1\n    warning: 0.5\n    direction: below\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: churn\nwindow: fortnight\n")
    assert _cli(["monitors", "validate", str(bad)]) == 1
    assert f"{bad}:2: window:" in capsys.readouterr().err
    assert _cli(["monitors", "apply", str(good), "--data-dir", root, "--actor", "bob"]) == 0
    out = tmp_path / "out.yaml"
    assert _cli(["monitors", "export", "--model", "churn", "--out", str(out), "--data-dir", root]) == 0
    assert "metric: f1" in out.read_text() and "owner: bob" in out.read_text()
    assert _cli(["alerts", "--model", "churn", "--state", "open", "--data-dir", root]) == 0
    assert "no incidents in state open" in capsys.readouterr().out
