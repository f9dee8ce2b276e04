"""CLI sub-command `monitors` (wired into the main CLI by cli_more; `users` is in users_cli, `alerts` in
readmodels.alerts_cli: it shows incidents through the read model the app uses)."""

from __future__ import annotations

import argparse
import getpass
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
    """Add `monitors` to the CLI tree."""
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
