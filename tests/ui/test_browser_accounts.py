"""Real browser, real `duckwatch serve`: a sign-in survives reloads and new tabs, and ends on the server.

The cookie is HttpOnly and SameSite=Strict (page scripts cannot read it); sign-out, removing the user and
expiry end the session on the server, so a copied cookie stops working; a role downgrade reaches the
live tab on its next page run and write.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from duckwatch.config import DataDir
from duckwatch.store import users
from duckwatch.store.settings import Settings
from tests.conftest import CLI
from tests.ui.test_browser import ARGS, CHROMIUM, _need_chromium, _settle, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-password", "bob": "bob-password-1", "viewer": "viewer-password"}
COOKIE = "duckwatch_session"


@pytest.fixture
def accounts_dir(app_data: DataDir, tmp_path: Path) -> DataDir:
    """A copy of the generated data dir with three editors, one of them named 'viewer'."""
    _need_chromium()
    copy = DataDir(tmp_path / "data")
    shutil.copytree(app_data.root, copy.root)
    for name, password in PASSWORDS.items():
        users.add_user(Settings(copy.settings), name, password, "editor", actor="test")
    return copy


@pytest.fixture
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _users(data: DataDir, *args: str) -> None:
    done = subprocess.run(
        [*CLI, "users", *args, "--data-dir", str(data.root)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _open(ctx: BrowserContext, url: str) -> Page:
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    _settle(page)
    return page


def _sign_in(page: Page, name: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="User").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {name} (editor)")).to_be_visible()
    _settle(page)


def _cookie(ctx: BrowserContext) -> dict[str, Any]:
    """The sign-in cookie, once the page has swapped its one-time code for it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [c for c in ctx.cookies() if c["name"] == COOKIE]
        if found:
            return dict(found[0])
        time.sleep(0.1)
    raise AssertionError("the sign-in cookie was never set")


def _shows_sign_in_only(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def _with_copied_cookie(browser: Browser, url: str, cookie: dict[str, Any]) -> Page:
    """A new browser profile given a copy of the cookie (as a thief would, without its expiry)."""
    ctx = browser.new_context()
    ctx.add_cookies([{"name": COOKIE, "value": cookie["value"], "url": url}])
    return _open(ctx, url)


def _post_status(url: str, origin: str, body: bytes) -> int:
    req = urllib.request.Request(
        f"{url}/_duckwatch/session", data=body, method="POST", headers={"Origin": origin}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _nav(page: Page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    _settle(page)


def test_sign_in_survives_reload_and_new_tab_and_ends_on_the_server(
    accounts_dir: DataDir, browser: Browser
) -> None:
    from playwright.sync_api import expect

    with serving(accounts_dir) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = _open(ctx, url)
        _shows_sign_in_only(page)
        _sign_in(page, "alice")
        cookie = _cookie(ctx)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert COOKIE not in page.evaluate("document.cookie")  # hidden from page scripts
        assert cookie["value"] not in page.content()

        page.reload()
        _settle(page)
        expect(page.get_by_text("Signed in as alice (editor)")).to_be_visible()
        tab = _open(ctx, url)
        expect(tab.get_by_text("Signed in as alice (editor)")).to_be_visible()

        # A downgrade from the CLI reaches the live tab: its next write is refused, its next run is read-only.
        _nav(tab, "Thresholds")
        expect(tab.get_by_role("button", name="Save limits")).to_be_visible()
        _users(accounts_dir, "set-role", "alice", "viewer")
        tab.get_by_role("textbox", name="Reason for the change (required, audited)").fill("tighten")
        tab.get_by_role("button", name="Save limits").click()
        _settle(tab)
        expect(tab.get_by_role("button", name="Save limits")).to_have_count(0)
        expect(tab.get_by_text("Signed in as alice (viewer)")).to_be_visible()
        writes = Settings(accounts_dir.settings).query(
            "SELECT 1 FROM audit WHERE actor = 'alice' AND action LIKE 'threshold.%'"
        )
        assert writes == []
        _nav(page, "Alerts")
        expect(page.get_by_text("Signed in as alice (viewer)")).to_be_visible()

        # Sign-out ends the session on the server: the other tab and a copied cookie are signed out.
        page.get_by_role("button", name="Sign out").click()
        _settle(page)
        _shows_sign_in_only(page)
        _shows_sign_in_only(_with_copied_cookie(browser, url, cookie))
        tab.reload()
        _settle(tab)
        _shows_sign_in_only(tab)


def test_removal_and_expiry_end_sessions_and_viewer_is_a_user_name(
    accounts_dir: DataDir, browser: Browser
) -> None:
    from playwright.sync_api import expect

    with serving(accounts_dir) as url:
        # The cookie route refuses other sites, and codes it did not issue.
        assert _post_status(url, "http://evil.example", b"code") == 403
        assert _post_status(url, url, b"not-a-code-it-issued") == 400
        bob_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        bob = _open(bob_ctx, url)
        _sign_in(bob, "bob")
        bob_cookie = _cookie(bob_ctx)
        _users(accounts_dir, "remove", "bob")
        _nav(bob, "Alerts")
        _shows_sign_in_only(bob)
        _shows_sign_in_only(_with_copied_cookie(browser, url, bob_cookie))

        _users(accounts_dir, "access", "--session-lifetime", "4s")
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = _open(ctx, url)
        _sign_in(page, "viewer")  # a user named like the role signs in like anyone else
        cookie = _cookie(ctx)
        assert cookie["expires"] - time.time() <= 5  # the browser is told the lifetime too
        time.sleep(5)
        _shows_sign_in_only(_with_copied_cookie(browser, url, cookie))  # the server honours the expiry
        page.reload()
        _settle(page)
        _shows_sign_in_only(page)
        expect(page.get_by_role("textbox", name="User")).to_be_visible()
