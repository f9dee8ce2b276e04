"""Sign-in: server-side sessions, read again from the store on every page run and every write.

The Streamlit session keeps only the session id (server memory). After a sign-in, the page swaps a
one-time code for an HttpOnly cookie at ``/_duckwatch/session`` (see ``session_routes``), so a reload
or a new tab finds the sign-in again through ``st.context.cookies``; page scripts never see the token.
"""

from __future__ import annotations

import json

import streamlit as st

from duckwatch.safe_text import markdown_literal
from duckwatch.store import sessions, signin
from duckwatch.store.sessions import Principal
from duckwatch.store.settings import Settings
from duckwatch.ui import data
from duckwatch.ui.session_routes import COOKIE, SESSION_PATH, SIGNOUT_PATH

CREATE_EDITOR = "duckwatch users add NAME --role editor"
_SID = "_dw_session_id"
_HANDOFF = "_dw_handoff"
_SIGNED_OUT = "_dw_signed_out"
_CLEAR_COOKIE = "_dw_clear_cookie"


def _settings() -> Settings:
    return Settings(data.data_dir().settings)


def _cookie() -> str:
    """The sign-in cookie sent when this browser tab connected ('' when none, or outside a browser)."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) else ""


def _client() -> str:
    """The client address for the lockout ('local' for loopback, where Streamlit reports None)."""
    value = st.context.ip_address
    return value if isinstance(value, str) and value else "local"


def principal() -> Principal | None:
    """The signed-in user and the role that applies now (from the store, never a cached role)."""
    settings = _settings()
    sid = st.session_state.get(_SID)
    found = sessions.resolve(settings, session_id=sid) if sid else None
    if found is None and not st.session_state.get(_SIGNED_OUT):
        token = _cookie()
        found = sessions.resolve(settings, token=token) if token else None
    if found is None:
        st.session_state.pop(_SID, None)
    else:
        st.session_state[_SID] = found.session_id
    return found


def role() -> str:
    """The current role: the signed-in user's role now, else viewer (anonymous read)."""
    found = principal()
    return found.role if found is not None else "viewer"


def user() -> str:
    """The current user name (the audit actor), 'anonymous' when nobody is signed in."""
    found = principal()
    return found.user if found is not None else "anonymous"


def can_write() -> bool:
    """Whether write controls should be shown (the write functions check the role again)."""
    return role() in data.WRITE_ROLES


def _login() -> None:
    outcome = signin.sign_in(
        _settings(),
        st.session_state.get("login_name", ""),
        st.session_state.get("login_pw", ""),
        client=_client(),
    )
    st.session_state.pop("login_pw", None)
    if outcome.started is None:
        st.session_state["login_error"] = outcome.message
        return
    st.session_state.update(
        {_SID: outcome.started.session_id, _HANDOFF: outcome.started.handoff_code, "login_error": ""}
    )
    st.session_state.pop(_SIGNED_OUT, None)


def _logout() -> None:
    sid = st.session_state.pop(_SID, None)
    if sid:
        sessions.revoke(_settings(), sid)
    # This connection's cookie still names the revoked session: stop reading it, and have the browser drop it.
    st.session_state.update({_SIGNED_OUT: True, _CLEAR_COOKIE: True})


def _browser_call(path: str, body: str) -> None:
    """POST to one of our routes from the page, so the server can set or clear the HttpOnly cookie."""
    st.html(
        f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'text/plain'}}, body: {json.dumps(body)}}});</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def _form(where: str) -> None:
    with st.form(f"login-{where}"):
        st.text_input("User", key="login_name")
        st.text_input("Password", type="password", key="login_pw")
        st.form_submit_button("Sign in", on_click=_login)
    if st.session_state.get("login_error"):
        st.error(st.session_state["login_error"], icon=":material/error:")


def gate() -> bool:
    """Show who is signed in, the sign-in form or the read-only banner; False when the page must not render."""
    found = principal()
    access = sessions.access(_settings())
    if found is not None:
        code = st.session_state.pop(_HANDOFF, None)
        if code:
            with st.sidebar:
                _browser_call(SESSION_PATH, code)
        st.sidebar.caption(f"Signed in as **{markdown_literal(found.user)}** ({found.role})")
        st.sidebar.button("Sign out", on_click=_logout, key="logout")
        return True
    if st.session_state.pop(_CLEAR_COOKIE, False) and _cookie():
        with st.sidebar:
            _browser_call(SIGNOUT_PATH, "")
    if access.anonymous_read and not data.has_users():
        st.sidebar.info(
            f"Read-only: no users yet. Create an editor with `{CREATE_EDITOR}`.", icon=":material/lock:"
        )
        return True
    if access.anonymous_read:
        with st.sidebar.expander("Sign in to edit", icon=":material/login:"):
            _form("sidebar")
        return True
    st.title("duckwatch")
    _form("main")
    return False
