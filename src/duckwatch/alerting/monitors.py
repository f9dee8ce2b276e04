"""Monitors as code: one YAML file per model — validate (file:line: field), apply, export back."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from duckwatch.alerting import monitors_columns
from duckwatch.errors import BadInputError
from duckwatch.store import alerting, catalog, routing
from duckwatch.store.channel_secrets import literals
from duckwatch.store.secrets import SecretStore
from duckwatch.store.settings import Settings

__all__ = ["Applied", "MonitorFileError", "apply", "apply_file", "export", "validate"]

TOP = {
    "model": str, "display_name": str, "owner": str, "purpose": str, "timezone": str, "window": str,
    "label_horizon_hours": float, "columns": dict, "ignore": list, "thresholds": list, "channels": list,
}  # fmt: skip
MODEL_FIELDS = ("display_name", "owner", "purpose", "timezone", "window", "label_horizon_hours")
THRESHOLD = {
    "family": str, "metric": str, "version": str, "column": str, "segment": str, "kind": str, "direction": str,
    "warning": float, "critical": float, "persist_n": int, "persist_m": int, "lookback": int,
    "cooldown_hours": float, "policy": str, "mute_until": str, "enabled": bool, "note": str,
}  # fmt: skip
CHOICES = {
    "kind": alerting.KINDS, "direction": alerting.DIRECTIONS, "policy": alerting.POLICIES,
    "role": ("id", "timestamp", "feature", "prediction", "score", "label", "segment", "sensitive", "status",
             "latency", "cost", "value", "kpi", "ignore"),
    "dtype": ("numeric", "categorical", "list", "timestamp", "text"),
}  # fmt: skip
_WINDOW = re.compile(r"^(hour|day|week|month|rows:[1-9][0-9]*)$")
EXPORTED = (
    "family", "metric", "version", "col", "segment", "kind", "direction", "warning", "critical", "persist_n",
    "persist_m", "lookback", "cooldown_hours", "severity_policy", "mute_until", "enabled", "note",
)  # fmt: skip
# YAML key ↔ store field where they differ (people write "column" and "policy").
_RENAME = {"column": "col", "policy": "severity_policy"}
log = logging.getLogger("duckwatch.monitors")


class MonitorFileError(BadInputError):
    """A monitors file is malformed; the message lists every problem as file:line: field: what to fix."""


@dataclass(frozen=True)
class _Spot:
    path: tuple[str | int, ...]
    problem: str


def _lines(node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, str(key.value))] = key.start_mark.line + 1
            _lines(value, (*path, str(key.value)), out)
            out[(*path, str(key.value))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def _type_ok(value: Any, want: type) -> bool:
    if want is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def _check_fields(data: dict[str, Any], schema: dict[str, type], path: tuple[str | int, ...]) -> list[_Spot]:
    spots = []
    for key, value in data.items():
        here = (*path, str(key))
        if key not in schema:
            spots.append(_Spot(here, f"unknown field; known fields: {', '.join(schema)}"))
        elif value is None and key in ("warning", "critical", "mute_until"):
            continue
        elif not _type_ok(value, schema[key]):
            spots.append(_Spot(here, f"must be {schema[key].__name__}, got {type(value).__name__} {value!r}"))
        elif key in CHOICES and value not in CHOICES[key]:
            spots.append(_Spot(here, f"{value!r} is not one of {', '.join(CHOICES[key])}"))
    return spots


def _check(data: Any) -> list[_Spot]:
    if not isinstance(data, dict):
        return [_Spot((), "the file must be a mapping with at least `model: NAME`")]
    spots = _check_fields(data, TOP, ())
    if not isinstance(data.get("model"), str) or not data.get("model"):
        spots.append(_Spot(("model",) if "model" in data else (), "required: the model's name"))
    if isinstance(data.get("window"), str) and not _WINDOW.match(data["window"]):
        spots.append(_Spot(("window",), f"{data['window']!r} is not hour, day, week, month or rows:N"))
    if isinstance(data.get("timezone"), str):
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            spots.append(_Spot(("timezone",), f"unknown time zone {data['timezone']!r}; e.g. Europe/Paris"))
    for name, spec in (data.get("columns") or {}).items() if isinstance(data.get("columns"), dict) else ():
        if not isinstance(spec, dict) or set(spec) - {"role", "dtype"} or "role" not in spec:
            spots.append(_Spot(("columns", str(name)), "must be a mapping {role: ..., dtype: ...}"))
        else:
            spots += _check_fields(spec, {"role": str, "dtype": str}, ("columns", str(name)))
    ignored = data.get("ignore")
    if ignored is not None and (
        not isinstance(ignored, list) or not all(isinstance(n, str) and n for n in ignored)
    ):
        spots.append(_Spot(("ignore",), "must be a list of column names, e.g. [year, batch_no]"))
    elif ignored and isinstance(data.get("columns"), dict):
        for name in ignored:
            spec = data["columns"].get(name)
            if isinstance(spec, dict) and spec.get("role") not in (None, "ignore"):
                spots.append(
                    _Spot(("ignore",), f"column {name!r} is also under columns with role {spec['role']!r}")
                )
    for i, item in enumerate(
        data.get("thresholds") or [] if isinstance(data.get("thresholds"), list) else []
    ):
        here: tuple[str | int, ...] = ("thresholds", i)
        if not isinstance(item, dict):
            spots.append(_Spot(here, "each threshold must be a mapping"))
            continue
        found = _check_fields(item, THRESHOLD, here)
        spots += found
        if not found:
            try:
                alerting.check_threshold({_RENAME.get(str(k), str(k)): v for k, v in item.items()})
            except BadInputError as exc:
                spots.append(_Spot(here, str(exc)))
    for i, item in enumerate(data.get("channels") or [] if isinstance(data.get("channels"), list) else []):
        ok = isinstance(item, dict) and item.get("kind") in ("webhook", "email", "log") and item.get("target")
        if not ok or set(item) - {"kind", "target", "config"}:
            spots.append(_Spot(("channels", i), "needs kind (webhook|email|log), target, optional config"))
    return spots


def _describe(path: Path, lines: dict[tuple[str | int, ...], int], spot: _Spot) -> str:
    probe = spot.path
    while probe and probe not in lines:
        probe = probe[:-1]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in spot.path).lstrip(".") or "(file)"
    return f"{path}:{lines.get(probe, 1)}: {field}: {spot.problem}"


def _line_map(path: Path) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if node is not None:
        _lines(node, (), lines)
    return lines


def validate(path: str | Path) -> list[str]:
    """Every problem in a monitors file as 'file:line: field: what is wrong' (empty list = valid)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        return [f"{path}: cannot read the file ({exc.strerror}); check the path"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [f"{path}:{line}: (yaml): {getattr(exc, 'problem', None) or exc}; fix the YAML syntax"]
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    return [_describe(path, lines, s) for s in _check(data)]


@dataclass(frozen=True)
class Applied:
    """What applying a monitors file did: its thresholds (managed in code) and the settings it changed."""

    thresholds: list[alerting.Threshold]
    changed: list[str]


def apply(settings: Settings, path: str | Path, actor: str, role: str = "admin") -> list[alerting.Threshold]:
    """Validate fully, then set the model, its column roles, thresholds (managed in code) and channels."""
    return apply_file(settings, path, actor, role).thresholds


def apply_file(settings: Settings, path: str | Path, actor: str, role: str = "admin") -> Applied:
    """`apply`, saying which settings changed; a key the store cannot apply stops the whole file."""
    errors = validate(path)
    if errors:
        raise MonitorFileError("monitors file not applied, nothing changed:\n" + "\n".join(errors))
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    name, reason = data["model"], f"monitors file {Path(path).name}"
    if catalog.get_model(settings, name) is not None:
        refused = [_Spot(p, why) for p, why in monitors_columns.unappliable(settings, name, data)]
        if refused:
            lines = _line_map(Path(path))
            raise MonitorFileError(
                "monitors file not applied, nothing changed; these keys cannot be applied:\n"
                + "\n".join(_describe(Path(path), lines, s) for s in refused)
            )
    channels = data.get("channels") or []
    try:  # before anything changes: a reference to a secret this data dir lacks stops the whole file
        notes = routing.check_channels(settings, channels)
    except BadInputError as exc:
        raise MonitorFileError(
            f"monitors file not applied, nothing changed:\n{path}: channels: {exc}"
        ) from exc
    info = catalog.ensure_model(settings, name, actor=actor)
    fields = {k: data[k] for k in MODEL_FIELDS if k in data and getattr(info, k) != data[k]}
    if fields:
        catalog.update_model(settings, name, actor, reason, **fields)
    changed = [f"{k} {getattr(info, k)} -> {v}" for k, v in fields.items()]
    changed += monitors_columns.apply_columns(settings, name, data, actor, reason)
    items = [{_RENAME.get(k, k): v for k, v in t.items()} for t in data.get("thresholds") or []]
    result = alerting.replace_model_thresholds(settings, name, items, actor=actor, role=role, reason=reason)
    if "channels" in data:
        routing.set_channels(
            settings, name, channels, actor=actor, role=role, reason=reason, managed_in_code=True
        )
        _report_secrets(settings, path, name, channels, notes)
    return Applied(result, changed)


def _report_secrets(
    settings: Settings, path: str | Path, model: str, channels: list[dict[str, Any]], notes: list[str]
) -> None:
    """Warn (stderr from the CLI) about references unset here and literals left in the user's file."""
    for note in notes:
        log.warning("%s: %s", path, note)
    moved = sum(len(literals(c["kind"], c["target"], c.get("config") or {})) for c in channels)
    if moved:
        log.warning(
            "%s: %d secret value(s) moved to %s (owner-only); the file itself still holds them: replace them "
            "with the references `duckwatch monitors export --model %s` writes, or with ${env:NAME}",
            path,
            moved,
            SecretStore.beside(settings.path).path,
            model,
        )


def export(settings: Settings, model: str) -> str:
    """The model's monitors file as YAML, app edits included; secrets appear as references only."""
    info = catalog.get_model(settings, model)
    if info is None:
        raise BadInputError(f"model {model!r} is not registered; list models with `duckwatch models`")
    doc: dict[str, Any] = {"model": model, **{k: getattr(info, k) for k in MODEL_FIELDS}}
    doc["label_horizon_hours"] = float(info.label_horizon_hours)
    columns = catalog.get_columns(settings, model)
    doc["columns"] = {c.name: {"role": c.role, "dtype": c.dtype} for c in columns if c.role != "ignore"}
    doc["ignore"] = [c.name for c in columns if c.role == "ignore"]
    back = {v: k for k, v in _RENAME.items()}
    doc["thresholds"] = [
        {back.get(k, k): getattr(t, k) for k in EXPORTED}
        for t in alerting.list_thresholds(settings, model)
        if t.model == model
    ]
    doc["channels"] = [
        {"kind": c.kind, "target": c.target, "config": c.config}
        for c in routing.list_channels(settings, model)
        if c.model == model
    ]
    header = f"# duckwatch monitors file for {model}; apply with `duckwatch monitors apply FILE`\n"
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)
