"""CLI sub-commands `monitors` and `alerts` (wired into the main CLI by cli_more; `users` is in users_cli)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.store.audit_trail import os_user
from duckwatch.store.settings import Settings

__all__ = ["HANDLERS", "add_parsers"]

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}


def add_parsers(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `monitors` and `alerts` to the CLI tree."""
    p = sub.add_parser("monitors", help="monitors as code: validate, apply or export a model's YAML file")
    mon = p.add_subparsers(dest="monitors_cmd", required=True, metavar="ACTION")
    val = mon.add_parser("validate", help="check a file; errors name file:line: field")
    val.add_argument("file")
    app = mon.add_parser("apply", help="validate, then apply (thresholds become managed in code)")
    app.add_argument("file")
    app.add_argument(
        "--actor",
        default=None,
        help="who applies it (default: the OS user; the audit log keeps the OS user too)",
    )
    data_dir_arg(app)
    exp = mon.add_parser("export", help="write a model's monitors file, including app edits")
    exp.add_argument("--model", required=True)
    exp.add_argument("--out", default=None, help="file to write (default: stdout)")
    data_dir_arg(exp)
    HANDLERS["monitors"] = _monitors

    p = sub.add_parser("alerts", help="list incidents and their alerts")
    p.add_argument("--model", default=None)
    p.add_argument("--state", choices=("open", "acknowledged", "resolved"), default=None)
    p.add_argument("--format", choices=("table", "json"), default="table")
    data_dir_arg(p)
    HANDLERS["alerts"] = _alerts


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(resolve_data_dir(args.data_dir).ensure().settings)


def _monitors(args: argparse.Namespace) -> int:
    from duckwatch.alerting import monitors

    if args.monitors_cmd == "validate":
        errors = monitors.validate(args.file)
        for err in errors:
            print(err, file=sys.stderr)
        if not errors:
            print(f"{args.file}: ok")
        return 1 if errors else 0
    settings = _settings(args)
    if args.monitors_cmd == "apply":
        actor = args.actor or getpass.getuser()
        applied = monitors.apply_file(settings, args.file, actor=actor)
        print(
            f"{args.file}: applied, {len(applied.thresholds)} threshold(s) now managed in code "
            f"(audited as {actor}, OS user {os_user()})"
        )
        for change in applied.changed:
            print(f"  changed: {change}")
        if any(c.startswith(("window", "timezone", "column")) and "added" not in c for c in applied.changed):
            print("  the model's windows and results are recomputed from the stored rows at the next tick")
        return 0
    text = monitors.export(settings, args.model)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from duckwatch.alerting.alerts import list_alerts, list_incidents

    settings = _settings(args)
    incidents = list_incidents(settings, args.model, args.state)
    if args.format == "json":
        for inc in incidents:
            inc["alerts"] = list_alerts(settings, incident_id=inc["id"])
        print(json.dumps(incidents, indent=2, default=str))
        return 0
    if not incidents:
        print("no incidents" + (f" in state {args.state}" if args.state else ""))
        return 0
    for inc in incidents:
        print(f"#{inc['id']} [{inc['severity']}] {inc['state']:<12} {inc['title']}  since {inc['since']}")
        if inc["likely_cause"]:
            print(f"    likely cause: {inc['likely_cause']}")
        for a in list_alerts(settings, incident_id=inc["id"]):
            print(
                f"    - {a['metric']} {a['col']} = {a['value']} ({a['severity']}, {a['policy']}, {a['state']})"
            )
    return 0
