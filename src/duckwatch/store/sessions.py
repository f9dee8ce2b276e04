"""Server-side sign-in sessions and the app's access settings (anonymous read, session lifetime).

A session is a row, not a signed blob: sign-out, removing the user, a password reset or an expiry end it
on the server, and a copied cookie stops working at once. The browser carries a random 256-bit token
(``secrets.token_urlsafe(32)``) in an HttpOnly cookie; the store keeps only its SHA-256, so a leaked
settings file does not hand out live sessions. The app keeps the session id in server memory only.

The role is read again from ``users`` on every resolve (every page run and every write): a downgrade
applies at once, and a session never holds more than the role it was issued with, so an upgrade needs
a new sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from duckwatch.errors import BadInputError
from duckwatch.store.settings import Settings, audit
from duckwatch.store.users import ROLES, require_role

__all__ = [
    "ANONYMOUS_CHOICES",
    "DEFAULT_SESSION_SECONDS",
    "HANDOFF_SECONDS",
    "Access",
    "Principal",
    "Started",
    "access",
    "redeem_handoff",
    "resolve",
    "revoke",
    "set_access",
    "start",
]

DEFAULT_SESSION_SECONDS = 12 * 3600
HANDOFF_SECONDS = 60
ANONYMOUS_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class Access:
    """Who may read without signing in, and how long a sign-in lasts."""

    anonymous: str  # auto | on | off, as set
    anonymous_read: bool  # what applies now (auto: on only while no user exists)
    session_seconds: int


@dataclass(frozen=True)
class Started:
    """A new session: its id (server memory only) and a one-time code the browser swaps for a cookie."""

    session_id: str
    handoff_code: str
    expires_at: datetime


@dataclass(frozen=True)
class Principal:
    """The signed-in user behind a live session, with the role that applies now."""

    session_id: str
    user: str
    role: str
    expires_at: datetime


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def access(settings: Settings) -> Access:
    """The access settings in force."""
    rows = {r["key"]: r["value"] for r in settings.query("SELECT key, value FROM access_settings")}
    anonymous = rows.get("anonymous_read", "auto")
    if anonymous == "auto":
        has_users = bool(settings.query("SELECT 1 AS x FROM users LIMIT 1"))
        anonymous_read = not has_users
    else:
        anonymous_read = anonymous == "on"
    seconds = int(rows.get("session_seconds", DEFAULT_SESSION_SECONDS))
    return Access(anonymous, anonymous_read, seconds)


def set_access(
    settings: Settings,
    *,
    actor: str,
    actor_role: str,
    anonymous: str | None = None,
    session_seconds: int | None = None,
) -> Access:
    """Change who may read anonymously and/or the session lifetime (admins only; audited)."""
    require_role(actor_role, "admin", "change access settings")
    changes: dict[str, str] = {}
    if anonymous is not None:
        if anonymous not in ANONYMOUS_CHOICES:
            raise BadInputError(
                f"anonymous read must be one of {', '.join(ANONYMOUS_CHOICES)}, not {anonymous!r}"
            )
        changes["anonymous_read"] = anonymous
    if session_seconds is not None:
        if not 1 <= session_seconds <= 366 * 86400:
            raise BadInputError("the session lifetime must be between 1 second and 366 days")
        changes["session_seconds"] = str(session_seconds)
    if not changes:
        raise BadInputError("nothing to change: pass --anonymous-read and/or --session-lifetime")
    before = access(settings)
    with settings.write() as con:
        for key, value in changes.items():
            con.execute(
                "INSERT INTO access_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (key, value, _iso(datetime.now(UTC)), actor),
            )
        audit(
            con,
            actor=actor,
            action="access.settings",
            target="app",
            before={"anonymous_read": before.anonymous, "session_seconds": before.session_seconds},
            after=changes,
            reason="access settings changed",
        )
    return access(settings)


def start(settings: Settings, user: str, role: str, client: str, now: datetime | None = None) -> Started:
    """Open a session for a user who just proved their password."""
    at = _now(now)
    lifetime = access(settings).session_seconds
    started = Started(secrets.token_hex(16), secrets.token_urlsafe(32), at + timedelta(seconds=lifetime))
    with settings.write() as con:
        con.execute(
            "INSERT INTO sessions (id, handoff_hash, handoff_expires_at, user, role_at_issue, client, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                started.session_id,
                _digest(started.handoff_code),
                _iso(at + timedelta(seconds=HANDOFF_SECONDS)),
                user,
                role,
                client,
                _iso(at),
                _iso(started.expires_at),
            ),
        )
    return started


def redeem_handoff(settings: Settings, code: str, now: datetime | None = None) -> tuple[str, int] | None:
    """Swap a one-time code for the session's cookie token and its remaining seconds (None if unusable)."""
    at = _now(now)
    token = secrets.token_urlsafe(32)
    with settings.write() as con:
        row = con.execute(
            "SELECT id, handoff_expires_at, expires_at FROM sessions "
            "WHERE handoff_hash = ? AND revoked_at IS NULL",
            (_digest(code),),
        ).fetchone()
        if row is None:
            return None
        # Used once, whatever happens next.
        con.execute(
            "UPDATE sessions SET handoff_hash = NULL, handoff_expires_at = NULL WHERE id = ?", (row[0],)
        )
        expires = datetime.fromisoformat(row[2])
        if datetime.fromisoformat(row[1]) < at or expires <= at:
            return None
        con.execute("UPDATE sessions SET token_hash = ? WHERE id = ?", (_digest(token), row[0]))
    return token, max(1, int((expires - at).total_seconds()))


def resolve(
    settings: Settings,
    *,
    session_id: str | None = None,
    token: str | None = None,
    now: datetime | None = None,
) -> Principal | None:
    """The live session's user and current role, or None (unknown, revoked, expired, user gone)."""
    if session_id:
        where, key = "s.id = ?", session_id
    elif token:
        where, key = "s.token_hash = ?", _digest(token)
    else:
        return None
    rows = settings.query(
        "SELECT s.id, s.user, s.role_at_issue, s.expires_at, u.role FROM sessions s "
        f"JOIN users u ON u.name = s.user WHERE {where} AND s.revoked_at IS NULL",
        (key,),
    )
    if not rows:
        return None
    row = rows[0]
    expires = datetime.fromisoformat(row["expires_at"])
    if expires <= _now(now):
        return None
    issued, current = str(row["role_at_issue"]), str(row["role"])
    role = issued if ROLES.index(issued) < ROLES.index(current) else current
    return Principal(str(row["id"]), str(row["user"]), role, expires)


def revoke(settings: Settings, session_id: str, why: str = "signed out") -> bool:
    """End one session on the server (sign-out); True if it was live."""
    with settings.write() as con:
        cur = con.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_why = ?, handoff_hash = NULL "
            "WHERE id = ? AND revoked_at IS NULL",
            (_iso(datetime.now(UTC)), why, session_id),
        )
        return bool(cur.rowcount)
