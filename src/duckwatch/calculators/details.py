"""A metric row's ``details``: the text `json.dumps` writes for a small flat dict, ten times faster.

A full tick writes one per metric row (70k on 720 hourly windows, 2 s in json's encoder); the keys
are the job's own names and the values numbers, None or short text, so a few string joins give the
same text, character for character. Anything else goes through json.dumps.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["details_json"]


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float.__repr__(v)


def _text(v: str) -> str:
    # Printable ASCII without quotes or backslashes is written as is; anything else json escapes.
    if v.isascii() and v.isprintable() and '"' not in v and "\\" not in v:
        return f'"{v}"'
    return json.dumps(v)


def details_json(fields: dict[str, Any]) -> str:
    """``json.dumps(fields)`` for a flat dict of numbers, None, booleans and text."""
    parts = []
    for key, v in fields.items():
        if not isinstance(key, str):
            return json.dumps(fields)
        if v is None:
            text = "null"
        elif isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, float):
            text = _number(v)
        elif isinstance(v, int):
            text = int.__repr__(v)
        elif isinstance(v, str):
            text = _text(v)
        else:
            return json.dumps(fields)
        parts.append(f"{_text(key)}: {text}")
    return "{" + ", ".join(parts) + "}"
