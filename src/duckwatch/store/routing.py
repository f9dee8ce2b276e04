"""Where alerts go and when they stay quiet: notification channels (secrets by reference) and maintenance."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.store.alerting import require_reason, to_utc_iso
from duckwatch.store.channel_secrets import literals, secret_names, to_references
from duckwatch.store.secrets import SecretStore, is_mask, reference_problem, references
from duckwatch.store.settings import Settings, audit, utcnow
from duckwatch.store.users import require_role

__all__ = [
    "Channel",
    "add_maintenance",
    "check_channels",
    "in_maintenance",
    "list_channels",
    "referenced_secrets",
    "set_channels",
]


def add_maintenance(
    settings: Settings, *, model: str, start_at: str, end_at: str, actor: str, role: str, reason: str
) -> int:
    """Declare a maintenance window (ISO times, UTC) during which alerts are recorded but not sent."""
    require_role(role, "editor", "declare maintenance windows")
    require_reason(reason)
    start_at, end_at = to_utc_iso(start_at), to_utc_iso(end_at)
    if end_at <= start_at:
        raise BadInputError(f"maintenance end {end_at} must be after start {start_at}")
    with settings.write() as con:
        cur = con.execute(
            "INSERT INTO maintenance_windows (model, start_at, end_at, reason, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (model, start_at, end_at, reason, actor, utcnow()),
        )
        new_id = int(cur.lastrowid or 0)
        audit(
            con,
            actor=actor,
            action="maintenance.add",
            target=f"maintenance:{new_id}",
            after={"model": model, "start_at": start_at, "end_at": end_at},
            reason=reason,
        )
    return new_id


def in_maintenance(settings: Settings, model: str, start_at: str, end_at: str) -> bool:
    """True if a maintenance window of ``model`` (or '*') overlaps [start_at, end_at]."""
    rows = settings.query(
        "SELECT 1 FROM maintenance_windows WHERE model IN (?, '*') AND start_at <= ? AND end_at >= ? LIMIT 1",
        (model, end_at, start_at),
    )
    return bool(rows)


@dataclass(frozen=True)
class Channel:
    """Where a model's notifications go; target/config hold ``${secret|env|file:…}`` references, not secrets."""

    id: int
    model: str
    kind: str
    target: str
    config: dict[str, Any]
    managed_in_code: bool = False


def list_channels(settings: Settings, model: str | None = None) -> list[Channel]:
    """The model's own channels, else the '*' channels; all channels when model is None."""
    rows = settings.query("SELECT * FROM channels ORDER BY id")
    chans = [
        Channel(
            r["id"], r["model"], r["kind"], r["target"], json.loads(r["config"]), bool(r["managed_in_code"])
        )
        for r in rows
    ]
    if model is None:
        return chans
    own = [c for c in chans if c.model == model]
    return own or [c for c in chans if c.model == "*"]


def check_channels(settings: Settings, channels: list[dict[str, Any]]) -> list[str]:
    """Refuse malformed channels, bad references or ones to missing secrets; return warnings (env/file)."""
    problems: list[str] = []
    warnings: list[str] = []
    stored: set[str] | None = None
    seen: set[tuple[str, str]] = set()
    for i, ch in enumerate(channels):
        kind, target, config = ch.get("kind"), ch.get("target"), ch.get("config") or {}
        if kind not in ("webhook", "email", "log") or not target or not isinstance(target, str):
            problems.append(f"channel {i + 1} needs kind webhook|email|log and a target")
            continue
        if (kind, target) in seen:
            problems.append(f"channel {i + 1}: the same {kind} target is listed twice")
        seen.add((kind, target))
        if not isinstance(config, dict):
            problems.append(f"channel {i + 1}: config must be a mapping")
            continue
        problems += [
            f"channel {i + 1}: {field} looks like a masked value copied from the audit log; "
            "put the real value or a ${secret:…}/${env:…} reference"
            for field, value in literals(kind, target, config)
            if is_mask(value)
        ]
        for scheme, name in references([target, config]):
            problem = reference_problem(scheme, name)
            if problem:
                problems.append(f"channel {i + 1}: {problem}")
            elif scheme == "secret":
                stored = set(SecretStore.beside(settings.path).load()) if stored is None else stored
                if name not in stored:
                    problems.append(
                        f"channel {i + 1}: ${{secret:{name}}} is not in the secret file of this data dir; "
                        "put the value itself in the file once (duckwatch moves it there) or use ${env:NAME}"
                    )
            elif scheme == "env" and name not in os.environ:
                warnings.append(
                    f"channel {i + 1}: ${{env:{name}}} is not set here; the job that sends notifications "
                    "must have it in its environment"
                )
            elif scheme == "file" and not os.access(name, os.R_OK):
                warnings.append(
                    f"channel {i + 1}: ${{file:{name}}} is not readable here; the job that sends "
                    "notifications must be able to read it"
                )
    if problems:
        raise BadInputError("; ".join(problems))
    return warnings


def set_channels(
    settings: Settings,
    model: str,
    channels: list[dict[str, Any]],
    *,
    actor: str,
    role: str,
    reason: str,
    managed_in_code: bool = False,
) -> list[Channel]:
    """Replace the channels of ``model`` ('*' = every model without its own) with ``channels``.

    Literal secrets move to the data dir's secret file; rows, audit and exports keep references only.
    """
    require_role(role, "editor", "change notification channels")
    require_reason(reason)
    check_channels(settings, channels)
    store = SecretStore.beside(settings.path)
    specs = [(str(ch["kind"]), str(ch["target"]), dict(ch.get("config") or {})) for ch in channels]
    with settings.write() as con:
        before = [
            dict(r)
            for r in con.execute("SELECT kind, target, config FROM channels WHERE model = ?", (model,))
        ]
        others = con.execute("SELECT target, config FROM channels WHERE model != ?", (model,)).fetchall()
        taken = secret_names(v for _kind, target, config in specs for v in (target, config))
        taken |= secret_names(v for row in others for v in (row[0], json.loads(row[1])))
        rows, moved = to_references(model, specs, taken)
        con.execute("DELETE FROM channels WHERE model = ?", (model,))
        for kind, target, config in rows:
            con.execute(
                "INSERT INTO channels (model, kind, target, config, managed_in_code) VALUES (?, ?, ?, ?, ?)",
                (model, kind, target, json.dumps(config, sort_keys=True), int(managed_in_code)),
            )
        audit(
            con,
            actor=actor,
            action="channels.set",
            target=f"channels:{model}",
            before=before,
            after=[{"kind": k, "target": t, "config": c} for k, t, c in rows],
            reason=reason,
        )
        in_use = referenced_secrets(con)

        def update(values: dict[str, str]) -> None:
            values.update(moved)
            for name in set(values) - in_use:  # a removed channel's secret does not linger
                del values[name]

        store.edit(update)
    return list_channels(settings, model)


def referenced_secrets(con: sqlite3.Connection) -> set[str]:
    """Secret names still needed: by a channel, or by an outbox message not delivered yet."""
    rows = con.execute(
        "SELECT target, config FROM channels UNION ALL SELECT target, config FROM outbox WHERE state = 'pending'"
    ).fetchall()
    return secret_names(v for row in rows for v in (row[0], json.loads(row[1])))
