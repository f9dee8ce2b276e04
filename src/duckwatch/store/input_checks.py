"""Checks on a user's input file before any of it is parsed, the limits they apply, and short quotes.

Standard library only: the CLI runs ``check_input_file`` before it imports pyarrow or DuckDB, so a
directory, an empty file or a CSV named ``.parquet`` is refused in a line, before anything is written.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from duckwatch.errors import BadInputError

MAX_INPUT_BYTES_ENV = "DUCKWATCH_MAX_INPUT_BYTES"
MAX_RATIO_ENV = "DUCKWATCH_MAX_EXPANSION_RATIO"
MAX_LINE_BYTES_ENV = "DUCKWATCH_MAX_LINE_BYTES"

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
# Compressed text: recognised by its first bytes, whatever the file is called.
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")
_PARQUET_MAGIC = b"PAR1"
SHORT_CHARS = 200  # what an error message or a quarantine reason quotes of a value or a line
RAW_KEEP_CHARS = 65_536  # what quarantine keeps of one raw line or row


@dataclass(frozen=True)
class InputLimits:
    """How far a file may expand when it is read (compressed text, Parquet) and how long a line may be."""

    max_bytes: int = 1_000_000_000  # decompressed bytes of a compressed CSV/JSON file
    max_ratio: float = 100.0  # decompressed size / file size (compressed text and Parquet)
    ratio_floor: int = 64_000_000  # files expanding to less than this are never held to the ratio
    max_line_bytes: int = 16_000_000  # one CSV record or JSON line; longer ones are quarantined

    @classmethod
    def from_env(cls) -> InputLimits:
        """The defaults, overridden by $DUCKWATCH_MAX_INPUT_BYTES, _MAX_EXPANSION_RATIO, _MAX_LINE_BYTES."""
        default = cls()
        return cls(
            max_bytes=_env_size(MAX_INPUT_BYTES_ENV, default.max_bytes),
            max_ratio=_env_ratio(default.max_ratio),
            ratio_floor=default.ratio_floor,
            max_line_bytes=_env_size(MAX_LINE_BYTES_ENV, default.max_line_bytes),
        )

    def bomb_limit(self, file_bytes: int) -> int:
        """What a file of ``file_bytes`` may expand to before it counts as a decompression bomb."""
        return max(self.ratio_floor, int(self.max_ratio * file_bytes))

    def allowed(self, file_bytes: int) -> int:
        """What a compressed text file of ``file_bytes`` may expand to (the bomb limit, at most ``max_bytes``)."""
        return min(self.max_bytes, self.bomb_limit(file_bytes))

    def refuse(self, name: str, file_bytes: int, limit: int, what: str, other: str = "") -> BadInputError:
        """The error for a file that expands past ``limit``; ``what`` says when (decompressed, decoded),
        ``other`` offers another way out (" or decompress it first")."""
        head = f"{name} ({human_size(file_bytes)}) expands to more than {human_size(limit)} {what}"
        if limit == self.max_bytes:
            bigger = human_size(4 * limit).replace(" ", "")
            return BadInputError(
                f"{head}, the limit for one compressed file: nothing was ingested. Split it, or raise "
                f"the limit, e.g. {MAX_INPUT_BYTES_ENV}={bigger}"
            )
        return BadInputError(
            f"{head}, over {self.max_ratio:g} times its size, as a decompression bomb does: nothing was "
            f"ingested. If the file is genuine, raise {MAX_RATIO_ENV} (e.g. {MAX_RATIO_ENV}="
            f"{self.max_ratio * 10:g}){other}"
        )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def parse_size(text: str) -> int | None:
    """Bytes from ``"500MB"``, ``"2GiB"`` or ``"1048576"``; None when it is not a size."""
    m = _SIZE.match(text)
    if m is None:
        return None
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


def _env_size(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    size = parse_size(raw)
    if size is None or size <= 0:
        raise BadInputError(f"{name}={raw!r} is not a size: use bytes or a unit, e.g. 500MB or 2GB")
    return size


def _env_ratio(default: float) -> float:
    raw = os.environ.get(MAX_RATIO_ENV, "").strip()
    if not raw:
        return default
    try:
        ratio = float(raw)
    except ValueError:
        ratio = 0.0
    if not ratio >= 1:
        raise BadInputError(f"{MAX_RATIO_ENV}={raw!r} is not a ratio: use a number of at least 1, e.g. 500")
    return ratio


def human_size(n: float) -> str:
    """``1.5 MB``, ``2 GB``: decimal units, as DuckDB and disk vendors count."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def shorten(text: str, limit: int = SHORT_CHARS) -> str:
    """``text`` itself, or its first ``limit`` characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def cap_raw(text: str, limit: int = RAW_KEEP_CHARS, total: str = "") -> str:
    """What quarantine stores of a raw line or row: all of it, or its start and a note saying so.

    The result is never longer than ``limit`` (so capping twice changes nothing); ``total`` names the
    full size when ``text`` is itself only the start of something longer ("50,000,018 bytes").
    """
    if len(text) <= limit and not total:
        return text
    note = f"… (cut: {total or f'{len(text):,} characters'} in all; quarantine keeps the start)"
    return text[: max(limit - len(note), 0)] + note


def file_kind(path: Path, fmt: str | None) -> str:
    """csv | parquet | json, from ``fmt`` or the suffix (``.csv.gz`` is CSV); refuse an unknown one."""
    if fmt:
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED_SUFFIXES:
        suffixes.pop()
    kind = FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise BadInputError(
            f"cannot tell the format of {path.name}: use .csv, .parquet or .jsonl (optionally .gz or .zst), "
            "or pass --format csv|parquet|json"
        )
    return kind


def check_input_file(path: Path, fmt: str | None = None) -> tuple[str, str]:
    """Refuse what cannot be an input file (directory, empty, unreadable, not the format it claims).

    Returns (kind, compression): csv | parquet | json and none | gzip | zstd.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInputError(f"file not found: {path}") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise BadInputError(
            f"{path} is a directory, not a file: pass one CSV, Parquet or JSON-lines file per call"
        )
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(
            f"{path} is not a regular file (a pipe or a device?): save the data to a file first"
        )
    kind = file_kind(path, fmt)
    if st.st_size == 0:
        raise BadInputError(
            f"{path.name} is empty (0 bytes): nothing to ingest; check that whatever wrote it has finished"
        )
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            fh.seek(max(st.st_size - 4, 0))
            tail = fh.read(4)
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
    compression = next((c for magic, c in _MAGIC.items() if head.startswith(magic)), "none")
    if kind == "parquet":
        if st.st_size >= 12 and head.startswith(_PARQUET_MAGIC) and tail == _PARQUET_MAGIC:
            return kind, "none"
        raise BadInputError(f"{path.name} is not a Parquet file: {_looks_like(head, compression)}")
    if head.startswith(_PARQUET_MAGIC):
        raise BadInputError(
            f"{path.name} is a Parquet file, not {kind.upper()}: name it .parquet or pass --format parquet"
        )
    return kind, compression


def _looks_like(head: bytes, compression: str) -> str:
    if head.startswith(_PARQUET_MAGIC):
        return "it starts as one but has no Parquet footer: truncated (copied while being written?)"
    if compression != "none":
        return f"it is {compression}-compressed data; decompress it, or name it .csv.gz/.jsonl.gz"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "it looks like JSON text: name it .jsonl or pass --format json"
    try:  # not final: a multi-byte character cut at 64 bytes is no reason to call it binary
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        text_like = all(ch.isprintable() or ch in "\t\r\n" for ch in decoded)
    except UnicodeDecodeError:
        text_like = False
    if text_like:
        return "it looks like text (CSV?): name it .csv or pass --format csv"
    return "it has no Parquet header and footer (truncated, or another format); check the file"
