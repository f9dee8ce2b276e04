"""`duckwatch users` as a real process: set-role, remove, reset-password, access, and no-terminal errors."""

from __future__ import annotations

import json
import os
import subprocess

from duckwatch.config import DataDir
from duckwatch.store import sessions, users
from duckwatch.store.settings import Settings
from tests.conftest import CLI


def _users(data: DataDir, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "users", *args, "--data-dir", str(data.root)],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,  # no terminal, as under cron or CI
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_add_without_a_terminal_or_password_stdin_is_a_one_line_error(data_dir: DataDir) -> None:
    done = _users(data_dir, "add", "alice", "--role", "editor")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: no terminal to prompt for the password: pass it on stdin with --password-stdin"
    ]
    assert users.list_users(Settings(data_dir.settings)) == []


def test_set_role_remove_reset_password_and_access(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    assert (
        _users(
            data_dir, "add", "alice", "--role", "editor", "--password-stdin", stdin="alice-pass\n"
        ).returncode
        == 0
    )
    done = _users(data_dir, "set-role", "alice", "viewer", "--reason", "moved team")
    assert done.returncode == 0, done.stderr
    assert "now has role viewer" in done.stdout
    assert users.user_role(settings, "alice") == "viewer"
    done = _users(data_dir, "reset-password", "alice", "--password-stdin", stdin="brand-new-pass\n")
    assert done.returncode == 0, done.stderr
    assert users.verify(settings, "alice", "brand-new-pass") is not None
    assert _users(data_dir, "reset-password", "alice").returncode == 2  # no terminal: same one-line error
    done = _users(data_dir, "access", "--anonymous-read", "on", "--session-lifetime", "8h")
    assert done.returncode == 0, done.stderr
    assert "anonymous read: on" in done.stdout and "28800 s" in done.stdout
    assert sessions.access(settings).session_seconds == 8 * 3600
    done = _users(data_dir, "access", "--session-lifetime", "soon")
    assert done.returncode == 2 and "is not like 90s, 30m, 12h or 7d" in done.stderr
    assert "Traceback" not in done.stderr
    done = _users(data_dir, "remove", "alice")
    assert done.returncode == 0 and "user alice removed" in done.stdout
    done = _users(data_dir, "remove", "alice")
    assert done.returncode == 2 and done.stderr.startswith("error: user 'alice' does not exist")
    rows = settings.query("SELECT action, target, reason FROM audit WHERE target IN ('alice', 'app')")
    assert [r["action"] for r in rows] == [
        "user.add",
        "user.role",
        "user.password",
        "access.settings",
        "user.remove",
    ]
    assert rows[1]["reason"] == "moved team"
    assert all("brand-new-pass" not in json.dumps(r) for r in settings.query("SELECT * FROM audit"))
