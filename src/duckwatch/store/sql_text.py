"""Spelling identifiers and, where a value cannot be a bound parameter (ATTACH and COPY paths, constants
inside generated CASE expressions), values into SQL text; everywhere else values go in as bound parameters."""

from __future__ import annotations

__all__ = ["literal", "quote_ident"]


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal (inner quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"
