"""Accounts: server-side sessions, per (user, client) lockout, role re-read, removal, reset, access."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from duckwatch.config import DataDir
from duckwatch.errors import BadInputError, PermissionDeniedError
from duckwatch.store import sessions, signin, users
from duckwatch.store.settings import Settings

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(data_dir: DataDir) -> Settings:
    s = Settings(data_dir.settings)
    users.add_user(s, "alice", "alice-password", "editor", actor="root")
    return s


def _session(settings: Settings, name: str, password: str, client: str = "10.0.0.1") -> sessions.Principal:
    out = signin.sign_in(settings, name, password, client, now=T0)
    assert out.started is not None, out.message
    found = sessions.resolve(settings, session_id=out.started.session_id, now=T0)
    assert found is not None
    return found


def test_hundred_wrong_passwords_then_the_right_one_is_refused(settings: Settings) -> None:
    at = T0
    for _ in range(100):  # 100 wrong passwords in 5 s, as in the hardening issue
        out = signin.sign_in(settings, "alice", "wrong-password", "10.0.0.9", now=at)
        assert out.started is None
        at += timedelta(seconds=0.05)
    right = signin.sign_in(settings, "alice", "alice-password", "10.0.0.9", now=at)
    assert right.started is None and right.retry_at is not None and right.retry_at > at
    assert "try again in" in right.message and "UTC" in right.message
    # Another address is not locked out by this one's failures.
    assert signin.sign_in(settings, "alice", "alice-password", "10.0.0.8", now=at).started is not None
    # Once the delay has passed, the right password works and clears the counter.
    later = right.retry_at + timedelta(seconds=1)
    assert signin.sign_in(settings, "alice", "alice-password", "10.0.0.9", now=later).started is not None
    assert settings.query("SELECT * FROM signin_failures WHERE client = '10.0.0.9'") == []
    [entry] = settings.query("SELECT actor, action, target FROM audit WHERE action = 'user.lockout'")
    assert entry == {"actor": "sign-in from 10.0.0.9", "action": "user.lockout", "target": "alice"}


def test_the_lock_delay_grows_from_one_second_doubling_up_to_fifteen_minutes(settings: Settings) -> None:
    assert [signin.lock_delay(n) for n in range(1, 9)] == [0, 0, 0, 0, 1, 2, 4, 8]
    assert signin.lock_delay(40) == 900
    at = T0
    for n in range(1, 7):
        out = signin.sign_in(settings, "alice", "nope-nope", "c", now=at)
        assert (out.retry_at is None) == (n < 5)
        at = out.retry_at or at  # try again exactly when allowed
    assert out.retry_at == at and out.retry_at - T0 == timedelta(seconds=3)  # 1 s, then 2 s


def test_unknown_users_are_locked_out_too_without_revealing_they_do_not_exist(settings: Settings) -> None:
    outs = [signin.sign_in(settings, "mallory", "guess-1234", "c", now=T0) for _ in range(6)]
    assert outs[0].message == signin.WRONG and "try again" in outs[-1].message


def test_a_user_named_viewer_can_sign_in(settings: Settings) -> None:
    users.add_user(settings, "viewer", "viewer-password", "editor", actor="root")
    found = _session(settings, "viewer", "viewer-password")
    assert (found.user, found.role) == ("viewer", "editor")


def test_a_role_downgrade_reaches_a_live_session_and_an_upgrade_needs_a_new_sign_in(
    settings: Settings,
) -> None:
    live = _session(settings, "alice", "alice-password")
    assert live.role == "editor"
    users.set_role(settings, "alice", "viewer", actor="root", actor_role="admin", reason="moved team")
    assert sessions.resolve(settings, session_id=live.session_id, now=T0).role == "viewer"  # type: ignore[union-attr]
    users.set_role(settings, "alice", "admin", actor="root", actor_role="admin", reason="promoted")
    assert sessions.resolve(settings, session_id=live.session_id, now=T0).role == "editor"  # type: ignore[union-attr]
    assert _session(settings, "alice", "alice-password").role == "admin"


def test_cookie_token_is_issued_once_stored_hashed_and_dies_with_sign_out(settings: Settings) -> None:
    out = signin.sign_in(settings, "alice", "alice-password", "c", now=T0)
    assert out.started is not None
    redeemed = sessions.redeem_handoff(settings, out.started.handoff_code, now=T0)
    assert redeemed is not None
    token, max_age = redeemed
    assert len(token) >= 43 and max_age == sessions.DEFAULT_SESSION_SECONDS
    assert sessions.redeem_handoff(settings, out.started.handoff_code, now=T0) is None  # one use only
    stored = json.dumps(settings.query("SELECT * FROM sessions"), default=str)
    assert token not in stored and out.started.handoff_code not in stored
    assert sessions.resolve(settings, token=token, now=T0).user == "alice"  # type: ignore[union-attr]
    assert sessions.revoke(settings, out.started.session_id)
    assert sessions.resolve(settings, token=token, now=T0) is None  # a copied token no longer works


def test_a_stale_handoff_code_is_refused(settings: Settings) -> None:
    out = signin.sign_in(settings, "alice", "alice-password", "c", now=T0)
    assert out.started is not None
    late = T0 + timedelta(seconds=sessions.HANDOFF_SECONDS + 1)
    assert sessions.redeem_handoff(settings, out.started.handoff_code, now=late) is None


def test_sessions_expire_after_the_configured_lifetime(settings: Settings) -> None:
    sessions.set_access(settings, actor="root", actor_role="admin", session_seconds=600)
    live = _session(settings, "alice", "alice-password")
    assert live.expires_at == T0 + timedelta(seconds=600)
    assert sessions.resolve(settings, session_id=live.session_id, now=T0 + timedelta(seconds=599))
    assert sessions.resolve(settings, session_id=live.session_id, now=T0 + timedelta(seconds=600)) is None


def test_remove_and_reset_password_end_sessions_and_are_audited(settings: Settings) -> None:
    users.add_user(settings, "bob", "bob-password", "viewer", actor="root")
    bob = _session(settings, "bob", "bob-password")
    alice = _session(settings, "alice", "alice-password")
    with pytest.raises(PermissionDeniedError):
        users.remove_user(settings, "bob", actor="alice", actor_role="editor", reason="x")
    assert (
        users.reset_password(
            settings, "alice", "new-password", actor="root", actor_role="admin", reason="lost"
        )
        == 1
    )
    assert sessions.resolve(settings, session_id=alice.session_id, now=T0) is None
    assert users.verify(settings, "alice", "alice-password") is None
    assert users.verify(settings, "alice", "new-password") is not None
    assert users.remove_user(settings, "bob", actor="root", actor_role="admin", reason="left") == 1
    assert sessions.resolve(settings, session_id=bob.session_id, now=T0) is None
    assert [u.name for u in users.list_users(settings)] == ["alice"]
    with pytest.raises(BadInputError, match="does not exist"):
        users.remove_user(settings, "bob", actor="root", actor_role="admin", reason="again")
    rows = settings.query(
        "SELECT actor, action, target, before, after, reason FROM audit WHERE actor = 'root'"
    )
    assert [(r["action"], r["target"], r["reason"]) for r in rows[-2:]] == [
        ("user.password", "alice", "lost"),
        ("user.remove", "bob", "left"),
    ]
    assert json.loads(rows[-1]["before"]) == {"role": "viewer"}
    assert all("new-password" not in json.dumps(r) for r in rows)


def test_anonymous_read_is_on_only_while_no_user_exists_unless_set(data_dir: DataDir) -> None:
    s = Settings(data_dir.settings)
    assert sessions.access(s).anonymous_read
    users.add_user(s, "alice", "alice-password", "admin", actor="root")
    assert not sessions.access(s).anonymous_read
    sessions.set_access(s, actor="root", actor_role="admin", anonymous="on")
    assert sessions.access(s).anonymous_read
    with pytest.raises(PermissionDeniedError):
        sessions.set_access(s, actor="vic", actor_role="viewer", anonymous="off")
    with pytest.raises(BadInputError, match="one of auto, on, off"):
        sessions.set_access(s, actor="root", actor_role="admin", anonymous="maybe")
    [entry] = s.query("SELECT after FROM audit WHERE action = 'access.settings'")
    assert json.loads(entry["after"]) == {"anonymous_read": "on"}
