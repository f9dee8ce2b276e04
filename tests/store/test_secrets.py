"""The secret file and owner-only permissions; the migration that redacts secrets of older data dirs."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from duckwatch.config import DataDir
from duckwatch.errors import SecretReferenceError, StorageError
from duckwatch.store import routing
from duckwatch.store.duck import migrations
from duckwatch.store.secrets import Resolver, SecretStore
from duckwatch.store.settings import Settings, _split_sql
from duckwatch.store.settings_steps import STEPS, move_channel_secrets

PASSWORD = "pw-legacy-9f2c1e77"
TOKEN = "tokLegacy5b8d0a"
HOOK = f"https://hooks.example.com/services/T1/B2/{TOKEN}"
EMAIL = {"host": "smtp.example.com", "port": 587, "user": "alerts", "password": PASSWORD}
REDACT_VERSION = next(v for v, step in STEPS.items() if step is move_channel_secrets)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_data_dir_is_owner_only_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    data = DataDir(tmp_path / "fresh").ensure()
    settings = Settings(data.settings)
    routing.set_channels(
        settings, "*", [{"kind": "email", "target": "a@example.com", "config": {"password": PASSWORD}}],
        actor="ana", role="admin", reason="route",
    )  # fmt: skip
    assert _mode(data.root) == 0o700
    assert _mode(data.secrets) == 0o600 and SecretStore(data.secrets).load() == {
        "any-model.email1.password": PASSWORD
    }
    with settings.read() as con:  # while a connection is open, the WAL and shared-memory files exist
        con.execute("SELECT count(*) FROM channels").fetchone()
        wal = [p for p in data.root.glob("settings.sqlite*")]
        assert {p.name for p in wal} >= {"settings.sqlite", "settings.sqlite-wal", "settings.sqlite-shm"}
        assert {p.name: _mode(p) for p in wal} == {p.name: 0o600 for p in wal}
    assert not [
        p for p in data.root.iterdir() if p.name.endswith(".tmp")
    ]  # the atomic write left no temp file


def test_existing_wide_data_dir_and_settings_are_tightened_on_open(tmp_path: Path, umask_022: None) -> None:
    root = tmp_path / "old"
    root.mkdir(mode=0o755)
    (root / "settings.sqlite").touch(mode=0o644)
    os.chmod(root, 0o755)
    data = DataDir(root).ensure()
    Settings(data.settings).schema_version()
    assert _mode(root) == 0o700 and _mode(data.settings) == 0o600


def _legacy_settings(path: Path) -> None:
    """A settings file as the previous version left it: secrets in channels, the outbox and the audit log."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete=OFF")  # as many SQLite builds run: deleted rows stay in free space
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    for version, name, sql in migrations("settings"):
        if version < REDACT_VERSION:
            for statement in _split_sql(sql):
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?, '2026-01-01')", (version, name))
    channels = [
        ("webhook", HOOK, {"headers": {"Authorization": f"Bearer {TOKEN}"}}),
        ("email", "a@x.com", EMAIL),
    ]
    # Applied twice (an older password first): the old code deleted the rows, then inserted new ones.
    for applied in ([("email", "a@x.com", {**EMAIL, "password": "old-" + PASSWORD})], channels):
        con.execute("DELETE FROM channels")
        for kind, target, config in applied:
            con.execute(
                "INSERT INTO channels (model, kind, target, config) VALUES ('churn', ?, ?, ?)",
                (kind, target, json.dumps(config, sort_keys=True)),
            )
    ids = dict(con.execute("SELECT kind, id FROM channels").fetchall())
    for i in range(60):  # a model's channels, removed since: deleted rows linger in free pages
        con.execute(
            "INSERT INTO channels (model, kind, target, config) VALUES ('gone', 'email', ?, ?)",
            (f"x{i}@x.com", json.dumps({"password": f"{PASSWORD}-{i}", "pad": "." * 200})),
        )
    con.execute("DELETE FROM channels WHERE model = 'gone'")
    after = [{"kind": k, "target": t, "config": c} for k, t, c in channels]
    before = [{"kind": "email", "target": "a@x.com", "config": json.dumps({"password": "old-" + PASSWORD})}]
    for action, b, a in (("channels.set", before, after), ("threshold.create", None, {"note": "kept as is"})):
        con.execute(
            "INSERT INTO audit (at, actor, action, target, before, after, reason) VALUES ('t', 'ana', ?, 'x', ?, ?, 'r')",
            (action, None if b is None else json.dumps(b, sort_keys=True), json.dumps(a, sort_keys=True)),
        )
    for state, channel_id, kind, target, config in (
        ("pending", ids["email"], "email", "a@x.com", EMAIL),
        ("sent", ids["webhook"], "webhook", HOOK, {}),
    ):
        con.execute(
            "INSERT INTO outbox (model, channel_id, channel_kind, target, config, severity, mode, subject, body, "
            "state, next_attempt_at, created_at) VALUES ('churn', ?, ?, ?, ?, 'critical', 'immediate', 's', 'b', ?, "
            "'t', 't')",
            (channel_id, kind, target, json.dumps(config, sort_keys=True), state),
        )
    con.commit()
    con.close()


def test_migration_redacts_old_audit_rows_moves_secrets_and_keeps_the_log_append_only(
    data_dir: DataDir,
) -> None:
    path = data_dir.root / "legacy.sqlite"
    _legacy_settings(path)
    settings = Settings(path)
    assert settings.schema_version() >= REDACT_VERSION

    raw = b"".join(p.read_bytes() for p in path.parent.glob("legacy.sqlite*"))
    assert PASSWORD.encode() not in raw and TOKEN.encode() not in raw  # not even in free pages or the WAL
    [entry] = settings.query("SELECT before, after FROM audit WHERE action = 'channels.set'")
    after = json.loads(entry["after"])
    assert [c["target"] for c in after] == ["https://hooks.example.com/***", "a@x.com"]
    assert after[0]["config"] == {"headers": {"Authorization": "***"}}
    assert after[1]["config"] == {**EMAIL, "password": "***"}
    assert json.loads(json.loads(entry["before"])[0]["config"]) == {"password": "***"}
    [kept] = settings.query("SELECT after FROM audit WHERE action = 'threshold.create'")
    assert json.loads(kept["after"]) == {"note": "kept as is"}
    [note] = settings.query("SELECT actor, after, reason FROM audit WHERE action = 'audit.redact'")
    assert note["actor"] == "duckwatch-migration" and json.loads(note["after"])["audit_rows_redacted"] == 1
    assert "1 channels.set audit row(s)" in note["reason"] and "Rotate" in note["reason"]

    # Channels and the pending message now hold references to the owner-only secret file.
    resolver = Resolver(SecretStore.beside(path))
    channels = routing.list_channels(settings, "churn")
    assert [resolver.text(c.target) for c in channels] == [HOOK, "a@x.com"]
    assert resolver.tree(channels[1].config) == EMAIL and channels[1].config["password"].startswith(
        "${secret:"
    )
    pending, sent = settings.query("SELECT target, config FROM outbox ORDER BY id")
    assert (pending["target"], json.loads(pending["config"])) == ("a@x.com", channels[1].config)
    assert sent["target"] == "https://hooks.example.com/***"
    assert _mode(SecretStore.beside(path).path) == 0o600

    with closing(sqlite3.connect(path)) as con, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET reason = 'tampered'")

    # Idempotent: opening again changes nothing; the step itself finds nothing left to do.
    snapshot = settings.query("SELECT * FROM audit ORDER BY id"), SecretStore.beside(path).load()
    assert Settings(path).query("SELECT * FROM audit ORDER BY id") == snapshot[0]
    with closing(sqlite3.connect(path)) as con:
        before_step = con.execute("SELECT count(*) FROM audit").fetchone()
        assert move_channel_secrets(con, path) is True  # channels were set once: worth a rebuild, no more
        assert con.execute("SELECT count(*) FROM audit").fetchone() == before_step
    assert SecretStore.beside(path).load() == snapshot[1]


def test_damaged_or_missing_secret_is_a_clear_error_without_the_value(data_dir: DataDir) -> None:
    store = SecretStore(data_dir.secrets)
    store.edit(lambda values: values.update(a=PASSWORD))
    with pytest.raises(SecretReferenceError, match=r"\$\{secret:b\} is not in") as missing:
        Resolver(store).text("${secret:b}")
    data_dir.secrets.write_text("{not json " + PASSWORD)
    with pytest.raises(StorageError, match="is damaged") as damaged:
        store.load()
    assert PASSWORD not in str(missing.value) + str(damaged.value)
