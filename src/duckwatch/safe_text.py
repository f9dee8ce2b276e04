"""User text made inert for each place it is written to: Markdown, Plotly labels, chat messages, CSV cells.

Names, comments and values come from whoever logs data or edits settings; the people who read them
(in the app, a notification or a spreadsheet) must see that text, never run it: no image fetched, no
link made, no formula evaluated. One function per output format, all here, so every writer uses the
same rule. Nothing here imports pandas: the frame helper works on any DataFrame it is given.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMULA_STARTS",
    "chat_literal",
    "csv_cell",
    "csv_safe",
    "csv_text",
    "markdown_literal",
    "one_line",
    "plot_literal",
]

# Line breaks, tabs and other control characters (C0, DEL, C1, Unicode line/paragraph separators).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Markdown characters escaped with a backslash (CommonMark renders "\\x" as "x" for punctuation x):
# [ ] open links, images and Streamlit's `:color[...]`; < > autolinks, HTML and quotes; ` code;
# * ~ emphasis; $ math; & entities; \\ the escape itself. `_` only where it can open or close emphasis
# (not inside a word such as row_count), and a block marker (# - + = 1.) only where the text starts.
_MARKDOWN = re.compile(r"[\\`*\[\]<>~$&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|^[#+=-]")
_LIST_NUMBER = re.compile(r"^(\d{1,9})([.)])")
# GFM turns bare URLs (scheme://, www.) into links after escapes are resolved, so escaping cannot stop
# it; an invisible WORD JOINER inside the pattern does, and the text reads the same.
WORD_JOINER = "\u2060"
_URL_START = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)")
# Cells a spreadsheet reads as a formula (OWASP "CSV injection"): prefixed with ' to stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def one_line(text: object) -> str:
    """``text`` on one line: runs of control characters (line breaks, tabs) become one space."""
    return _CONTROL.sub(" ", str(text)).strip()


def _unlinked(text: str) -> str:
    return _URL_START.sub(WORD_JOINER, text)


def markdown_literal(text: object) -> str:
    """``text`` as Markdown that renders as the text, on one line: no image, link, HTML or format.

    E-mail addresses (owners) may still render as ``mailto:`` links: a click, never a fetch.
    """
    escaped = _MARKDOWN.sub(lambda m: "\\" + m.group(0), _unlinked(one_line(text)))
    return _LIST_NUMBER.sub(r"\1\\\2", escaped)


def plot_literal(text: object) -> str:
    """``text`` for a Plotly label (titles, legends, ticks, hovers read a subset of HTML, e.g. ``<a>``)."""
    # quote=False: Plotly decodes &amp; &lt; &gt; but would show &quot; as it is written.
    return html.escape(str(text), quote=False)


def chat_literal(text: object) -> str:
    """``text`` for a chat message (Slack mrkdwn or Markdown): no link, mention, image or HTML.

    Slack reads ``<...>`` as links and mentions (``<!channel>``) and wants ``<``/``>`` as entities,
    which Markdown renderers decode too; ``[``/``]`` start Markdown links and images; bare URLs are
    kept from becoming links as in ``markdown_literal``. Other punctuation stays as it is: Slack would
    show a backslash literally, and formatting marks are harmless. E-mail addresses (owners) may link.
    """
    out = one_line(text).replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    return _unlinked(out.replace("[", "\\[").replace("]", "\\]"))


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``; anything else unchanged.

    Numbers (and text that is only a number, such as ``-1.5``) carry no formula and stay as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are safe to open in a spreadsheet."""
    out = frame.copy()
    for i in range(out.shape[1]):  # by position: column names may repeat
        column = out.iloc[:, i]
        if column.dtype.kind not in "biufcmM":  # text, object or categorical; numbers and times stay
            out.isetitem(i, column.map(csv_cell).tolist())
    out.columns = [csv_cell(c) for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame, *, raw: bool = False) -> str:
    """``frame`` as CSV text (no index); text cells neutralised unless ``raw`` (for scripts)."""
    return (frame if raw else csv_safe(frame)).to_csv(index=False)
