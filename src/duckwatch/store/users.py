"""Local user accounts and roles: salted scrypt hashes, constant-time verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from duckwatch.errors import BadInputError, PermissionDeniedError
from duckwatch.store.settings import Settings, audit, utcnow

__all__ = [
    "ROLES",
    "User",
    "add_user",
    "check_password",
    "list_users",
    "remove_user",
    "require_role",
    "reset_password",
    "set_role",
    "user_role",
    "verify",
]

ROLES = ("viewer", "editor", "admin")
_KDF = "scrypt:n=16384,r=8,p=1"


@dataclass(frozen=True)
class User:
    """A local account (no secrets)."""

    name: str
    role: str
    created_at: str


def require_role(role: str, minimum: str, action: str) -> None:
    """Raise PermissionDeniedError unless ``role`` is at least ``minimum``."""
    if role not in ROLES:
        raise PermissionDeniedError(f"unknown role {role!r} cannot {action}; roles are {', '.join(ROLES)}")
    if ROLES.index(role) < ROLES.index(minimum):
        raise PermissionDeniedError(
            f"a {role} cannot {action}; ask an {minimum if minimum == 'admin' else 'editor or admin'}"
        )


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadInputError(f"role {role!r} is not one of {', '.join(ROLES)}")


def check_password(password: str) -> None:
    """Raise BadInputError for a password too short to keep."""
    if len(password) < 8:
        raise BadInputError("passwords need at least 8 characters; choose a longer one")


def add_user(
    settings: Settings,
    name: str,
    password: str,
    role: str = "viewer",
    actor: str = "cli",
    actor_role: str = "admin",
) -> User:
    """Create a local account with a salted scrypt hash (admins only; audited without secrets)."""
    require_role(actor_role, "admin", "add users")
    _check_role(role)
    if not name.strip():
        raise BadInputError("a user name must not be empty")
    check_password(password)
    salt = secrets.token_bytes(16)
    now = utcnow()
    with settings.write() as con:
        if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise BadInputError(f"user {name!r} already exists; use set_role to change the role")
        con.execute(
            "INSERT INTO users (name, role, salt, pw_hash, kdf, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, role, salt, _hash(password, salt), _KDF, now),
        )
        audit(con, actor=actor, action="user.add", target=name, after={"role": role}, reason="new account")
    return User(name, role, now)


def verify(settings: Settings, name: str, password: str) -> User | None:
    """The user if the password matches (constant-time compare), else None."""
    rows = settings.query(
        "SELECT name, role, salt, pw_hash, kdf, created_at FROM users WHERE name = ?", (name,)
    )
    if not rows:
        # Spend the same time as a real check so unknown names are not revealed by timing.
        hmac.compare_digest(_hash(password, b"\0" * 16), b"\0" * 32)
        return None
    row = rows[0]
    if row["kdf"] != _KDF:
        return None
    ok = hmac.compare_digest(_hash(password, bytes(row["salt"])), bytes(row["pw_hash"]))
    return User(row["name"], row["role"], row["created_at"]) if ok else None


def set_role(settings: Settings, name: str, role: str, actor: str, actor_role: str, reason: str) -> User:
    """Change a user's role (admins only; audited)."""
    require_role(actor_role, "admin", "change roles")
    _check_role(role)
    if not reason.strip():
        raise BadInputError("say why the role changes (reason is required for the audit log)")
    with settings.write() as con:
        row = con.execute("SELECT role, created_at FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise BadInputError(f"user {name!r} does not exist; add it first")
        con.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        # Live sessions read the role again on every page run and write (sessions.resolve), so a
        # downgrade applies at once; an upgrade needs a new sign-in (a session never exceeds its issue role).
        audit(
            con,
            actor=actor,
            action="user.role",
            target=name,
            before={"role": row[0]},
            after={"role": role},
            reason=reason,
        )
    return User(name, role, str(row[1]))


def list_users(settings: Settings) -> list[User]:
    """Every local account, by name."""
    return [User(**r) for r in settings.query("SELECT name, role, created_at FROM users ORDER BY name")]


def user_role(settings: Settings, name: str) -> str | None:
    """The user's role now, or None when no such user exists."""
    rows = settings.query("SELECT role FROM users WHERE name = ?", (name,))
    return str(rows[0]["role"]) if rows else None


def _revoke_sessions(con: sqlite3.Connection, name: str, why: str) -> int:
    cur = con.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE user = ? AND revoked_at IS NULL",
        (utcnow(), why, name),
    )
    return int(cur.rowcount)


def remove_user(settings: Settings, name: str, actor: str, actor_role: str, reason: str) -> int:
    """Delete an account and end its sessions at once (admins only; audited); return sessions ended."""
    require_role(actor_role, "admin", "remove users")
    with settings.write() as con:
        row = con.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise BadInputError(f"user {name!r} does not exist; `duckwatch users list` shows who does")
        con.execute("DELETE FROM users WHERE name = ?", (name,))
        ended = _revoke_sessions(con, name, "user removed")
        con.execute("DELETE FROM signin_failures WHERE user = ?", (name,))
        audit(
            con,
            actor=actor,
            action="user.remove",
            target=name,
            before={"role": row[0]},
            after={"sessions_ended": ended},
            reason=reason,
        )
    return ended


def reset_password(
    settings: Settings, name: str, password: str, actor: str, actor_role: str, reason: str
) -> int:
    """Set a new password, end the user's sessions and clear its lockouts (admins only; audited)."""
    require_role(actor_role, "admin", "reset passwords")
    check_password(password)
    salt = secrets.token_bytes(16)
    with settings.write() as con:
        if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
            raise BadInputError(f"user {name!r} does not exist; add it with `duckwatch users add`")
        con.execute(
            "UPDATE users SET salt = ?, pw_hash = ?, kdf = ? WHERE name = ?",
            (salt, _hash(password, salt), _KDF, name),
        )
        ended = _revoke_sessions(con, name, "password reset")
        con.execute("DELETE FROM signin_failures WHERE user = ?", (name,))
        audit(
            con,
            actor=actor,
            action="user.password",
            target=name,
            after={"sessions_ended": ended},
            reason=reason,
        )
    return ended
