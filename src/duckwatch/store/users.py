"""Local user accounts and roles: salted scrypt hashes, constant-time verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from duckwatch.errors import BadInputError, PermissionDeniedError
from duckwatch.store.settings import Settings, audit, utcnow

__all__ = ["ROLES", "User", "add_user", "list_users", "require_role", "set_role", "verify"]

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
    if len(password) < 8:
        raise BadInputError("passwords need at least 8 characters; choose a longer one")
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
