"""Login: without users the app is read-only ("viewer"); with users, a password form sets the role."""

from __future__ import annotations

import streamlit as st

from duckwatch.safe_text import markdown_literal
from duckwatch.ui import data

CREATE_EDITOR = "duckwatch users add NAME --role editor"


def role() -> str:
    """The current session's role (viewer until someone logs in)."""
    return str(st.session_state.get("role", "viewer"))


def user() -> str:
    """The current session's user name (used as the audit actor)."""
    return str(st.session_state.get("user", "anonymous"))


def can_write() -> bool:
    """Whether write controls should be shown (the write functions check the role again)."""
    return role() in data.WRITE_ROLES


def _login() -> None:
    role_found = data.verify_user(
        st.session_state.get("login_name", ""), st.session_state.get("login_pw", "")
    )
    if role_found is None:
        st.session_state["login_error"] = "Unknown user or wrong password."
        return
    st.session_state.update(role=role_found, user=st.session_state["login_name"], login_error="")
    st.session_state.pop("login_pw", None)


def _logout() -> None:
    for key in ("role", "user"):
        st.session_state.pop(key, None)


def gate() -> bool:
    """Show the login form or the read-only banner; return False when the page must not render yet."""
    if not data.has_users():
        st.session_state.setdefault("role", "viewer")
        st.session_state.setdefault("user", "viewer")
        st.sidebar.info(
            f"Read-only: no users yet. Create an editor with `{CREATE_EDITOR}`.", icon=":material/lock:"
        )
        return True
    if "user" in st.session_state and st.session_state.get("user") not in ("viewer", "anonymous"):
        st.sidebar.caption(f"Signed in as **{markdown_literal(user())}** ({role()})")
        st.sidebar.button("Sign out", on_click=_logout, key="logout")
        return True
    st.title("duckwatch")
    with st.form("login"):
        st.text_input("User", key="login_name")
        st.text_input("Password", type="password", key="login_pw")
        st.form_submit_button("Sign in", on_click=_login)
    if st.session_state.get("login_error"):
        st.error(st.session_state["login_error"], icon=":material/error:")
    return False
