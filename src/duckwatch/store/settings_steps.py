"""Python steps of settings migrations: ``STEPS[version]`` runs right after that version's SQL file.

A step runs once per file, inside the migration's transaction (a failure rolls the version back), and
returns True when it rewrote sensitive data, so the store then rebuilds the file (VACUUM) to leave no
old copy behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from duckwatch.store.audit_trail import audit
from duckwatch.store.channel_secrets import masked, to_references
from duckwatch.store.secrets import SecretStore

__all__ = ["STEPS", "move_channel_secrets"]

Step = Callable[[sqlite3.Connection, Path], bool]
MIGRATION_ACTOR = "duckwatch-migration"
_TRIGGER = (
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
)


def _masked_channels(value: Any) -> Any:
    """A channels.set before/after value with literal secrets masked (config may be a JSON string)."""
    if not isinstance(value, list):
        return value
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            out.append(item)
            continue
        config = item.get("config")
        parsed = json.loads(config) if isinstance(config, str) else config
        target, hidden = masked(str(item.get("kind")), item["target"], parsed or {})
        new = {**item, "target": target}
        if "config" in item:
            new["config"] = json.dumps(hidden, sort_keys=True) if isinstance(config, str) else hidden
        out.append(new)
    return out


def _redact_audit(con: sqlite3.Connection) -> int:
    changes = []
    for row_id, before, after in con.execute(
        "SELECT id, before, after FROM audit WHERE action = 'channels.set' ORDER BY id"
    ).fetchall():
        new = [
            None
            if text is None
            else json.dumps(_masked_channels(json.loads(text)), sort_keys=True, default=str)
            for text in (before, after)
        ]
        if new != [before, after]:
            changes.append((*new, row_id))
    if changes:
        # The log is append-only for everyone else; this one audited rewrite removes plain-text secrets.
        con.execute("DROP TRIGGER audit_no_update")
        con.executemany("UPDATE audit SET before = ?, after = ? WHERE id = ?", changes)
        con.execute(_TRIGGER)
    return len(changes)


def _move_channels(con: sqlite3.Connection, moved: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Channel rows get references; returns {channel id: (old target, old config)} of rows that changed."""
    rows = con.execute("SELECT id, model, kind, target, config FROM channels ORDER BY model, id").fetchall()
    changed: dict[int, tuple[str, str]] = {}
    for model in dict.fromkeys(r[1] for r in rows):
        own = [r for r in rows if r[1] == model]
        specs, names = to_references(model, [(r[2], r[3], json.loads(r[4])) for r in own], set(moved))
        moved.update(names)
        for old, (_kind, target, config) in zip(own, specs, strict=True):
            text = json.dumps(config, sort_keys=True)
            if (target, text) != (old[3], old[4]):
                con.execute("UPDATE channels SET target = ?, config = ? WHERE id = ?", (target, text, old[0]))
                changed[old[0]] = (old[3], old[4])
    return changed


def _move_outbox(con: sqlite3.Connection, moved: dict[str, str], channels: dict[int, tuple[str, str]]) -> int:
    """Pending messages get references (their channel's, when it held the same values); others masks."""
    count = 0
    rows = con.execute("SELECT id, channel_id, channel_kind, target, config, state FROM outbox").fetchall()
    now = {r[0]: (r[1], r[2]) for r in con.execute("SELECT id, target, config FROM channels").fetchall()}
    for row_id, channel_id, kind, target, config, state in rows:
        if state == "pending" and channels.get(channel_id) == (target, config):
            new_target, new_config = now[channel_id]
        elif state == "pending":
            [(_k, new_target, parsed)], names = to_references(
                f"outbox{row_id}", [(kind, target, json.loads(config))], set(moved)
            )
            moved.update(names)
            new_config = json.dumps(parsed, sort_keys=True)
        else:  # delivered or given up: never sent again, so the values are not needed at all
            new_target, parsed = masked(kind, target, json.loads(config))
            new_config = json.dumps(parsed, sort_keys=True)
        if (new_target, new_config) != (target, config):
            con.execute(
                "UPDATE outbox SET target = ?, config = ? WHERE id = ?", (new_target, new_config, row_id)
            )
            count += 1
    return count


def move_channel_secrets(con: sqlite3.Connection, settings_path: Path) -> bool:
    """Move literal channel secrets into the secret file and mask them in old audit rows (audited).

    Returns whether channels were ever set: then the file is rebuilt so deleted copies disappear too.
    """
    moved: dict[str, str] = {}
    channels = _move_channels(con, moved)
    outbox = _move_outbox(con, moved, channels)
    redacted = _redact_audit(con)
    if not (channels or outbox or redacted):
        # Nothing literal is left, but channels once set may have left deleted copies in free pages.
        return con.execute("SELECT 1 FROM audit WHERE action = 'channels.set' LIMIT 1").fetchone() is not None
    store = SecretStore.beside(settings_path)
    if moved:
        store.edit(lambda values: values.update(moved))
    audit(
        con,
        actor=MIGRATION_ACTOR,
        action="audit.redact",
        target="audit:channels.set",
        after={
            "audit_rows_redacted": redacted,
            "channels_moved": len(channels),
            "outbox_rows_rewritten": outbox,
            "secret_file": str(store.path),
        },
        reason=(
            f"{redacted} channels.set audit row(s) held channel secrets in plain text and now show masks; "
            f"the secrets moved to {store.path.name} (owner-only). Rotate those passwords, tokens and webhook "
            "URLs: older copies of settings.sqlite (backups) still hold them."
        ),
    )
    return True


STEPS: dict[int, Step] = {4: move_channel_secrets}
