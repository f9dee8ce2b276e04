"""CLI column roles and model settings: the role options of `ingest`/`reference`, and `models set`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.errors import BadInputError

WINDOW_HELP = (
    "window of a NEW model: hour, day, week, month (in its time zone) or rows:N (N rows in arrival "
    "order); change an existing model's with `duckwatch models set MODEL --window W`"
)
RECOMPUTE_NOTE = "its windows and results are recomputed from the stored rows at the next `duckwatch run`"


def add_role_args(p: argparse.ArgumentParser) -> None:
    """The column-role options shared by `ingest` and `reference`."""
    g = p.add_argument_group("column roles (remembered per model; conventional names are guessed)")
    g.add_argument("--id-col", help="request/prediction id (outcomes join on it)")
    g.add_argument("--time-col", help="event time (ISO-8601, naive = model time zone, or epoch)")
    g.add_argument("--prediction-col", help="the model's prediction (class, value or list)")
    g.add_argument("--score-col", action="append", default=[], help="probability column (repeat per class)")
    g.add_argument("--label-col", help="ground truth column (outcomes, reference)")
    g.add_argument("--segment-col", action="append", default=[], help="segment column (repeatable)")
    g.add_argument("--sensitive-col", action="append", default=[], help="sensitive attribute for fairness")
    g.add_argument(
        "--categorical-col", action="append", default=[], help="treat a numeric column as categorical"
    )
    g.add_argument("--value-col", action="append", default=[], help="business value column (e.g. revenue)")
    g.add_argument(
        "--ignore-col",
        action="append",
        default=[],
        help="a column that is not a feature (a year, a batch number): stored, never profiled, drifted "
        "or quality-checked (repeatable)",
    )
    g.add_argument("--window", help=WINDOW_HELP)
    g.add_argument("--format", dest="file_format", choices=["csv", "parquet", "json"], help="input format")


def roles_of(args: argparse.Namespace) -> dict[str, Any]:
    """The roles and settings the options name, for ``Collector.declare``."""
    roles: dict[str, Any] = {
        "id": args.id_col,
        "timestamp": args.time_col,
        "prediction": args.prediction_col,
        "label": args.label_col,
        "scores": tuple(args.score_col) or None,
        "segments": tuple(args.segment_col) or None,
        "sensitive": tuple(args.sensitive_col) or None,
        "categorical": tuple(args.categorical_col) or None,
        "values": tuple(args.value_col) or None,
        "ignore": tuple(args.ignore_col) or None,
    }
    return {k: v for k, v in roles.items() if v}


def check_new_window(settings: Any, model: str, window: str | None) -> str | None:
    """``--window`` of ingest/reference, normalised: it sets a new model's window and never changes one."""
    from duckwatch.store import catalog

    if window is None:
        return None
    wanted = catalog.check_window(window)
    info = catalog.get_model(settings, model)
    if info is not None and info.window != wanted:
        raise BadInputError(
            f"model {model!r} already has window {info.window}; --window sets a new model's window only. "
            f"Change it with `duckwatch models set {model} --window {wanted}` ({RECOMPUTE_NOTE})"
        )
    return wanted


def add_models_set(
    models: argparse.ArgumentParser, data_dir_arg: Callable[[argparse.ArgumentParser], None]
) -> None:
    """`duckwatch models set MODEL --window W`."""
    sub = models.add_subparsers(dest="models_cmd", metavar="ACTION")
    p = sub.add_parser(
        "set",
        help="change a model's settings (audited)",
        description=f"Change a model's settings. A new window applies to its whole history: {RECOMPUTE_NOTE}.",
    )
    p.add_argument("model")
    p.add_argument(
        "--window",
        required=True,
        help="hour, day, week, month (in the model's time zone) or rows:N (N rows in arrival order)",
    )
    p.add_argument("--actor", default=None, help="who makes the change (default: the OS user)")
    p.add_argument("--reason", default="", help="why (kept in the audit log)")
    data_dir_arg(p)


def models_set(args: argparse.Namespace) -> int:
    """Run `duckwatch models set`."""
    import getpass

    from duckwatch.names import check_model_name
    from duckwatch.store import catalog
    from duckwatch.store.settings import Settings

    check_model_name(args.model)
    settings = Settings(resolve_data_dir(args.data_dir).ensure().settings)
    window = catalog.check_window(args.window)
    info = catalog.get_model(settings, args.model)
    if info is None:
        raise BadInputError(f"model {args.model!r} is not registered; list models with `duckwatch models`")
    if info.window == window:
        print(f"model {args.model!r}: window is already {window}; nothing changed")
        return 0
    catalog.update_model(
        settings, args.model, actor=args.actor or getpass.getuser(), reason=args.reason, window=window
    )
    print(f"model {args.model!r}: window {info.window} -> {window}; {RECOMPUTE_NOTE}")
    return 0
