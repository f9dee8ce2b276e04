"""Streaming reads of a user's file: bounded decompression, bounded lines, and Parquet footers checked
against what they would expand to, so a small file can never take minutes or gigabytes to refuse."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch.errors import BadInputError
from duckwatch.store.input_checks import (
    MAX_LINE_BYTES_ENV,
    RAW_KEEP_CHARS,
    InputLimits,
    cap_raw,
    check_input_file,
    human_size,
    shorten,
)

_CHUNK = 1 << 20
# In-memory bytes per value of a Parquet physical type (strings: offsets plus their text, see below).
_WIDTH = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12, "BYTE_ARRAY": 8}


class Line(NamedTuple):
    """One physical line without its line feed; ``data`` is None when it is longer than the limit."""

    no: int
    data: bytes | None
    size: int  # bytes, the line feed included
    preview: bytes  # the start of a too-long line (what quarantine keeps of it)

    def raw_text(self) -> str:
        """The line as text for quarantine: invalid UTF-8 replaced, a too-long line cut and said so."""
        if self.data is None:
            return cap_raw(self.preview.decode("utf-8", "replace"), total=f"{self.size:,} bytes")
        return cap_raw(self.data.decode("utf-8", "replace").rstrip("\r"))

    def too_long(self, limit: int) -> str:
        """The quarantine reason of a too-long line."""
        return (
            f"line is {human_size(self.size)} long, more than the {human_size(limit)} limit for one line "
            f"(raise {MAX_LINE_BYTES_ENV} if it is genuine)"
        )


def open_stream(path: Path, compression: str) -> pa.NativeFile:
    """The file's bytes, decompressed on the fly (gzip, zstd) a chunk at a time."""
    return pa.input_stream(str(path), compression=None if compression == "none" else compression)


def check_expansion(path: Path, compression: str, limits: InputLimits) -> int:
    """Decompress ``path`` once, counting bytes only, and refuse it as soon as it expands too far."""
    size = path.stat().st_size
    allowed = limits.allowed(size)
    total = 0
    with open_stream(path, compression) as stream:
        while chunk := read_chunk(stream, path, compression):
            total += len(chunk)
            if total > allowed:
                raise limits.refuse(path.name, size, allowed, "when decompressed", " or decompress it first")
    return total


def read_chunk(stream: pa.NativeFile, path: Path, compression: str) -> bytes:
    """The next MiB of ``stream`` (b"" at the end); a corrupt compressed stream is refused."""
    try:
        return bytes(stream.read(_CHUNK))
    except OSError as exc:  # Arrow reports a truncated or corrupt stream as an OSError
        raise BadInputError(
            f"{path.name} is not valid {compression} data ({shorten(str(exc))}): it may be truncated; "
            "compress it again, or ingest the uncompressed file"
        ) from exc


def physical_lines(path: Path, compression: str, limit: int) -> Iterator[Line]:
    """Every line of the (decompressed) file; one longer than ``limit`` is never held whole."""
    no, size, pieces, too_long = 0, 0, list[bytes](), False
    with open_stream(path, compression) as stream:
        while chunk := read_chunk(stream, path, compression):
            parts = chunk.split(b"\n")
            for part in parts[:-1]:  # each of these ends a line
                no += 1
                if not size:  # the whole line is in this chunk (the common case)
                    yield make_line(no, part, limit)
                    continue
                size, pieces, too_long = _grow(size, pieces, too_long, part, limit)
                yield _line(no, pieces, size + 1, too_long)
                size, pieces, too_long = 0, [], False
            if parts[-1]:
                size, pieces, too_long = _grow(size, pieces, too_long, parts[-1], limit)
    if size:
        yield _line(no + 1, pieces, size, too_long)


def _grow(
    size: int, pieces: list[bytes], too_long: bool, part: bytes, limit: int
) -> tuple[int, list[bytes], bool]:
    size += len(part)
    if not too_long:
        pieces.append(part)
        if size > limit:
            return size, [b"".join(pieces)[:RAW_KEEP_CHARS]], True
    return size, pieces, too_long


def make_line(no: int, data: bytes, limit: int) -> Line:
    """Line ``no`` holding ``data`` (its line feed left out), cut when longer than ``limit``."""
    if len(data) > limit:
        return Line(no, None, len(data) + 1, data[:RAW_KEEP_CHARS])
    return Line(no, data, len(data) + 1, b"")


def _line(no: int, pieces: list[bytes], size: int, too_long: bool) -> Line:
    joined = b"".join(pieces)
    return Line(no, None, size, joined) if too_long else Line(no, joined, size, b"")


def longest_line(path: Path, compression: str) -> int:
    """The length in bytes of the file's longest line (one pass, a chunk at a time, with numpy)."""
    longest, current = 0, 0
    with open_stream(path, compression) as stream:
        while chunk := read_chunk(stream, path, compression):
            ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            if not len(ends):
                current += len(chunk)
                continue
            longest = max(longest, current + int(ends[0]), int(np.diff(ends).max(initial=0)) - 1)
            current = len(chunk) - int(ends[-1]) - 1
    return max(longest, current)


def first_line(path: Path, compression: str, limits: InputLimits, *, header: bool = True) -> str:
    """The first non-blank line as text (BOM and ending removed); refuse a file that is not text.

    ``header``: the line names the columns (CSV), so it must be whole, clean text. A JSON-lines
    file has no header: its first line only has to look like the start of an object.
    """
    for line in physical_lines(path, compression, limits.max_line_bytes):
        if line.data is None and not header:
            return ""  # a line to set aside later, with the others
        if line.data is None:
            raise BadInputError(
                f"the first line of {path.name} is {human_size(line.size)} long: that is no header; "
                "check that it is the file you meant"
            )
        if not line.data.strip():
            continue
        try:
            text = codecs.decode(line.data.rstrip(b"\r"), "utf-8-sig")
        except UnicodeDecodeError:
            text = "\x00"
        if "\x00" in text and (header or not line.data.lstrip(b"\xef\xbb\xbf \t").startswith(b"{")):
            raise BadInputError(
                f"{path.name} is not text: its first line holds binary data. Check that it is the file "
                "you meant (Parquet needs .parquet or --format parquet; text must be UTF-8)"
            )
        return text
    raise BadInputError(f"{path.name} holds only blank lines: nothing to ingest")


def parquet_footprint(meta: pq.FileMetaData) -> int:
    """What a Parquet file's rows take once decoded, estimated from its footer alone.

    Run-length and dictionary encodings store a million equal values in a few bytes, so the sizes
    the footer records say little: every value counts at least its type's width, strings their
    offset and the longer of their min/max statistics.
    """
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            col = group.column(c)
            width = _WIDTH.get(col.physical_type, 8)
            if col.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = max(int(meta.schema.column(c).length or 0), 1)
            elif col.physical_type == "BYTE_ARRAY" and col.is_stats_set and col.statistics.has_min_max:
                stats = col.statistics
                width = 4 + max(len(stats.min or b""), len(stats.max or b""))
            total += max(int(col.total_uncompressed_size), int(col.num_values) * width)
    return total


def check_parquet(path: Path, limits: InputLimits) -> pq.ParquetFile:
    """Open a Parquet file's footer; refuse a corrupt one, or one that would expand too far."""
    try:
        pf = pq.ParquetFile(path)
        footprint = parquet_footprint(pf.metadata)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(
            f"{path.name} is not a readable Parquet file ({shorten(str(exc))}): it may be truncated or "
            "corrupt; write it again"
        ) from exc
    size = path.stat().st_size
    allowed = limits.bomb_limit(size)
    if footprint > allowed:
        raise limits.refuse(path.name, size, allowed, "once decoded (from its footer)")
    return pf


def parquet_schema(path: Path, limits: InputLimits | None = None) -> pa.Schema:
    """The Arrow schema of a Parquet file to ingest, once the file passed every check."""
    check_input_file(path, "parquet")
    return check_parquet(path, limits or InputLimits.from_env()).schema_arrow
