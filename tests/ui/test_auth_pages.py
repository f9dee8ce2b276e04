"""The app's sign-in under AppTest: lockout, a user named viewer, role re-read on writes, removal, access."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from duckwatch.config import DataDir
from duckwatch.store import users
from duckwatch.store.settings import Settings

MAIN = Path(__file__).resolve().parents[2] / "src" / "duckwatch" / "ui" / "main.py"


@pytest.fixture
def writable(app_data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    """A private copy of the generated data dir, with an editor 'ed' and an editor named 'viewer'."""
    copy = DataDir(tmp_path / "data")
    shutil.copytree(app_data.root, copy.root)
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(copy.root))
    st.cache_data.clear()
    settings = Settings(copy.settings)
    users.add_user(settings, "ed", "ed-password", "editor", actor="test")
    users.add_user(settings, "viewer", "viewer-password", "editor", actor="test")
    return copy


def _app() -> AppTest:
    return AppTest.from_file(str(MAIN), default_timeout=60).run()


def _login(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_pw").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def _signed_in_as(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.sidebar.caption if "Signed in as" in str(c.value))


def test_a_user_named_viewer_signs_in(writable: DataDir) -> None:
    at = _login(_app(), "viewer", "viewer-password")
    assert not at.exception
    assert "Signed in as **viewer** (editor)" in _signed_in_as(at)
    assert at.title[0].value == "Portfolio"


def test_hundred_wrong_passwords_then_the_right_one_is_refused(writable: DataDir) -> None:
    at = _app()
    for _ in range(100):
        _login(at, "ed", "not-the-password")
    _login(at, "ed", "ed-password")
    assert not _signed_in_as(at)
    assert "try again in" in at.error[0].value
    assert [t.value for t in at.title] == ["duckwatch"]  # still the sign-in page
    # The lock is on the server: a fresh browser session is refused too.
    assert "try again in" in _login(_app(), "ed", "ed-password").error[0].value


def test_a_role_downgrade_reaches_the_live_session_on_the_next_write_and_page_run(writable: DataDir) -> None:
    settings = Settings(writable.settings)
    at = _login(_app(), "ed", "ed-password")
    at.switch_page("screens/thresholds.py").run()
    assert [b for b in at.button if b.label == "Save limits"]
    users.set_role(settings, "ed", "viewer", actor="admin", actor_role="admin", reason="moved team")
    at.text_input(key="thr_reason").input("tighten volume")
    next(b for b in at.button if b.label == "Save limits").click().run()
    # The write re-reads the role: refused. (The page then renders read-only and shows its banner.)
    assert at.session_state["thr_msg"][1].startswith("Not saved: a viewer may not change settings")
    writes = settings.query("SELECT 1 FROM audit WHERE actor = 'ed' AND action LIKE 'threshold.%'")
    assert writes == []
    assert not [b for b in at.button if b.label == "Save limits"]  # the same run shows it read-only
    assert any("Read-only" in i.value for i in at.info)
    assert "(viewer)" in _signed_in_as(at)


def test_removing_a_user_ends_the_live_session_and_sign_out_revokes_it_on_the_server(
    writable: DataDir,
) -> None:
    settings = Settings(writable.settings)
    at = _login(_app(), "ed", "ed-password")
    assert _signed_in_as(at)
    users.remove_user(settings, "ed", actor="admin", actor_role="admin", reason="left")
    at.run()
    assert [t.value for t in at.title] == ["duckwatch"] and not _signed_in_as(at)
    at = _login(_app(), "viewer", "viewer-password")
    next(b for b in at.button if b.label == "Sign out").click().run()
    assert not _signed_in_as(at)
    [row] = settings.query("SELECT revoked_why FROM sessions WHERE user = 'viewer'")
    assert row["revoked_why"] == "signed out"


def test_anonymous_read_is_a_setting(writable: DataDir) -> None:
    from duckwatch.store import sessions

    settings = Settings(writable.settings)
    at = _app()  # users exist, setting 'auto': sign-in only
    assert [t.value for t in at.title] == ["duckwatch"]
    sessions.set_access(settings, actor="admin", actor_role="admin", anonymous="on")
    at = _app()
    assert at.title[0].value == "Portfolio"
    assert at.sidebar.expander and at.sidebar.expander[0].label == "Sign in to edit"
    _login(at, "ed", "ed-password")
    assert "Signed in as **ed** (editor)" in _signed_in_as(at)
