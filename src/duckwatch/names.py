"""Validation of names that come from users (models, versions, columns) before they touch paths or SQL."""

from __future__ import annotations

import re

from duckwatch.errors import BadInputError

_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_LABEL_RE = re.compile(r"^[^\x00-\x1f/\\]{1,100}$")


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a safe model name, else raise BadInputError saying how to fix it."""
    if not isinstance(name, str) or not _MODEL_RE.match(name) or ".." in name:
        raise BadInputError(
            f"invalid model name {name!r}: use 1-100 letters, digits, '_', '-' or '.', starting with a "
            "letter or digit (no '/', spaces or '..'); e.g. 'credit-default' or 'fraud_v2'. "
            "A human-friendly display name can be set separately."
        )
    return name


def check_label(kind: str, value: object) -> str:
    """Validate a version or experiment label (stored as data, never used as a path)."""
    if value is None:
        return ""
    text = str(value)
    if text and not _LABEL_RE.match(text):
        raise BadInputError(
            f"invalid {kind} {text!r}: use at most 100 printable characters without '/' or '\\'."
        )
    return text
