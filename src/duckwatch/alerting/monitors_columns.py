"""The columns part of a monitors file: roles, types and the `ignore:` list, checked then applied.

A key the store cannot apply (a type change of a column stored as a list, a stored column made the id)
is reported with the file's other problems, and nothing is applied: a file is applied whole or not
at all, never printed "applied" while a key changed nothing.
"""

from __future__ import annotations

from typing import Any

from duckwatch.store import catalog
from duckwatch.store.settings import Settings

__all__ = ["apply_columns", "column_specs", "unappliable"]

# Roles whose values are stored outside the column itself (the row's id and event time): a column
# already stored with data cannot become one, nor stop being one.
_SYSTEM_ROLES = ("id", "timestamp")


def column_specs(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every column the file sets: ``columns:`` entries and the ``ignore:`` list (role ignore)."""
    specs = {str(k): dict(v) for k, v in (data.get("columns") or {}).items()}
    for name in data.get("ignore") or []:
        specs.setdefault(str(name), {})["role"] = "ignore"
    return specs


def unappliable(settings: Settings, model: str, data: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """(path of the key, why) for every column key the store cannot apply to the model as it is."""
    known = {c.name: c for c in catalog.get_columns(settings, model)}
    out: list[tuple[tuple[str, ...], str]] = []
    for name, spec in column_specs(data).items():
        col = known.get(name)
        if col is None:
            continue
        where = ("columns", name) if name in (data.get("columns") or {}) else ("ignore",)
        role = spec.get("role", col.role)
        if role != col.role and col.dtype and (role in _SYSTEM_ROLES or col.role in _SYSTEM_ROLES):
            out.append(
                ((*where, "role"), f"column {name!r} is stored as {col.role}: it cannot become {role} "
                 "(ids and event times are stored apart from other columns); log it under a new name")
            )  # fmt: skip
        dtype = spec.get("dtype")
        if dtype and col.dtype and dtype != col.dtype:
            stored = col.storage_dtype
            if stored not in catalog.RETYPABLE or dtype not in catalog.RETYPABLE:
                out.append(
                    ((*where, "dtype"), f"column {name!r} is stored as {stored}: only numeric and "
                     f"categorical columns can be analysed as the other; send {dtype} values under a new name")
                )  # fmt: skip
    return out


def apply_columns(settings: Settings, model: str, data: dict[str, Any], actor: str, reason: str) -> list[str]:
    """Register new columns and change roles and types of known ones; returns what changed."""
    known = {c.name: c for c in catalog.get_columns(settings, model)}
    specs = column_specs(data)
    # A column no data has typed yet takes its type from the first batch unless the file names one.
    new = [(c, s["role"], s.get("dtype", ""), "") for c, s in specs.items() if c not in known and "role" in s]
    if new:
        catalog.assign_columns(settings, model, new)
    changed = [f"column {c!r} added as {role}" for c, role, _d, _l in new]
    for name, spec in specs.items():
        col = known.get(name)
        if col is None:
            continue
        if spec.get("role", col.role) != col.role:
            catalog.set_column_role(settings, model, name, spec["role"], actor)
            changed.append(f"column {name!r} role {col.role} -> {spec['role']}")
        dtype = spec.get("dtype")
        if dtype and catalog.set_column_dtype(settings, model, name, dtype, actor, reason):
            changed.append(f"column {name!r} type {col.dtype or '(untyped)'} -> {dtype}")
    return changed
