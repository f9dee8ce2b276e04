"""Status words for people: icon + word + colour (never colour alone), for Markdown and for table cells."""

from __future__ import annotations

STATUS = {
    "critical": (":material/error:", "Critical", "#D55E00"),
    "warning": (":material/warning:", "Warning", "#E69F00"),
    "watch": (":material/visibility:", "Watch", "#0072B2"),
    "unknown": (":material/help:", "Not evaluated", "#999999"),
    "insufficient": (":material/help:", "Too few rows", "#999999"),
    "ok": (":material/check_circle:", "Healthy", "#009E73"),
}
# Streamlit's badge colours (text and background chosen by the theme for contrast): word + icon + colour.
BADGE = {
    "critical": "red",
    "warning": "orange",
    "watch": "blue",
    "unknown": "gray",
    "insufficient": "gray",
    "ok": "green",
}
# Shown beside a status when the latest breaches are provisional (labels still arriving): not red.
PROVISIONAL = ":material/hourglass_top: Provisional (labels still arriving)"
# Plain symbols (not emoji): they render in every font, including a headless browser's.
ICON_TEXT = {"critical": "✖", "warning": "⚠", "watch": "◉", "unknown": "?", "insufficient": "?", "ok": "✓"}


def status_word(status: str) -> str:
    """Icon + word on a coloured badge (Markdown): never colour alone, never colour-less."""
    known = status if status in STATUS else "unknown"
    icon, word, _ = STATUS[known]
    return f":{BADGE[known]}-badge[{icon} {word}]"


def status_text(status: str) -> str:
    """Plain-text icon + word, for table cells."""
    return f"{ICON_TEXT.get(status, '?')} {STATUS.get(status, STATUS['unknown'])[1]}"
