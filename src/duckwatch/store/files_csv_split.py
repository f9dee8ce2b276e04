"""Splitting a CSV file that DuckDB cannot parse cleanly into good records and set-aside lines.

A record that breaks (an unbalanced quote, a wrong number of fields, bytes that are not UTF-8, a
line over the limit) sets aside its *first* line only, and reading starts again on the next line:
a stray quote never takes its neighbours with it. Good records are copied byte for byte, so DuckDB
then types them exactly as it types a clean file.

Speed: the file is read in 1 MiB blocks of whole lines. A block without quotes is checked with
numpy (fields counted per line); a block with quotes is parsed by csv.reader in one call and kept
whole when it is one clean record per line. Only a block that fails either check is walked line by
line, with push-back: a file with a few bad lines costs a few times DuckDB's own parse.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from duckwatch.errors import BadInputError
from duckwatch.store.files_stream import Line, make_line, open_stream, read_chunk
from duckwatch.store.input_checks import RAW_KEEP_CHARS, human_size

STRAY_RETURN = "a carriage return (\\r) inside the line: save the file with one kind of line ending"
MAX_RECORD_LINES = 1000  # a quoted field may span lines, but an unclosed quote must not eat the file
Reject = tuple[int, str, str]  # line number, reason, raw text


@dataclass(frozen=True)
class _Block:
    """Whole lines (each ending in ``\\n``), the first of them line ``first``."""

    first: int
    data: bytes

    def lines(self, limit: int) -> list[Line]:
        """Its lines, one by one."""
        return [make_line(self.first + i, part, limit) for i, part in enumerate(self.data[:-1].split(b"\n"))]

    def split_first(self, limit: int) -> list[_Block | Line]:
        """Its first line, and a block of the rest (if any)."""
        head, rest = self.data.split(b"\n", 1)
        return [make_line(self.first, head, limit), *([_Block(self.first + 1, rest)] if rest else [])]


class _TooLong(Exception):
    """Raised through csv.reader when the record being read passes the length limits."""


def _units(path: Path, compression: str, limit: int) -> Iterator[_Block | Line]:
    """Blocks of whole lines; a line longer than ``limit`` comes alone, cut (never held whole)."""
    no, carry, skipping = 0, b"", None  # skipping: (bytes so far, start) of a too-long line
    with open_stream(path, compression) as stream:
        while chunk := read_chunk(stream, path, compression):
            if skipping is not None:
                nl = chunk.find(b"\n")
                if nl < 0:
                    skipping = (skipping[0] + len(chunk), skipping[1])
                    continue
                no += 1
                yield Line(no, None, skipping[0] + nl + 1, skipping[1])
                skipping, chunk = None, chunk[nl + 1 :]
            buf = carry + chunk if carry else chunk
            last = buf.rfind(b"\n")
            if last >= 0:
                block = _Block(no + 1, buf[: last + 1])
                no += block.data.count(b"\n")
                yield block
                buf = buf[last + 1 :]
            carry = buf
            if len(carry) > limit:
                skipping, carry = (len(carry), carry[:RAW_KEEP_CHARS]), b""
    if skipping is not None:
        yield Line(no + 1, None, skipping[0], skipping[1])
    elif carry:
        yield _Block(no + 1, carry + b"\n")


class _Feed:
    """Lines for csv.reader, with push-back; ``taken`` holds those of the record being read."""

    def __init__(self, units: Iterator[_Block | Line], limit: int) -> None:
        self._units = units
        self._back: deque[_Block | Line] = deque()
        self._limit = limit
        self.taken: list[Line] = []
        self.size = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.pop()
        if line is None:
            raise StopIteration
        self.taken.append(line)
        self.size += line.size
        if line.data is None or self.size > self._limit or len(self.taken) > MAX_RECORD_LINES:
            raise _TooLong
        return line.data.decode("utf-8", "surrogateescape") + "\n"

    def unit(self) -> _Block | Line | None:
        """The next thing to read: a pushed-back line first, then the next block or line."""
        return self._back.popleft() if self._back else next(self._units, None)

    def pop(self) -> Line | None:
        """The next line (a block is split into lines), or None at the end."""
        unit = self.unit()
        while isinstance(unit, _Block):
            self._back.extendleft(reversed(unit.lines(self._limit)))
            unit = self._back.popleft()
        return unit

    def push_back(self, units: list[_Block | Line] | list[Line]) -> None:
        self._back.extendleft(reversed(units))


class Splitter:
    """Writes the good records of a CSV file to ``out`` and collects the lines set aside."""

    def __init__(self, out: BinaryIO, delimiter: str, limit: int) -> None:
        self.out = out
        self.delimiter = delimiter
        self.limit = limit
        self.rejects: list[Reject] = []
        self.line_of = array("q")  # line i of ``out`` is source line line_of[i - 1]
        self.columns: int | None = None

    def run(self, path: Path, compression: str) -> None:
        """Split the whole file; refuse it when its header is malformed or missing."""
        # The csv module's limit is process-wide: it is only ever raised, to what a record here may hold.
        csv.field_size_limit(max(csv.field_size_limit(), self.limit))
        feed = _Feed(_units(path, compression, self.limit), self.limit)
        reader = csv.reader(feed, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=True)
        while (unit := feed.unit()) is not None:
            if isinstance(unit, _Block):
                if self.columns is None:  # the header is read line by line: split off the first line
                    feed.push_back(unit.split_first(self.limit))
                elif not self._block(unit):
                    feed.push_back(unit.lines(self.limit))
                continue
            lines, fields, reason = self._record(unit, feed, reader)
            if lines:
                self._keep_or_reject(path, feed, lines, fields, reason)
        if self.columns is None:
            raise BadInputError(f"{path.name} holds only blank lines: nothing to ingest")

    def _block(self, block: _Block) -> bool:
        """Handle a block of whole lines at once; False when it must be read line by line."""
        if b'"' in block.data:
            return self._quoted_block(block)
        arr = np.frombuffer(block.data, np.uint8)
        ends = np.flatnonzero(arr == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        cum = np.concatenate(([0], np.cumsum(arr == ord(self.delimiter))))
        fields = cum[ends] - cum[starts] + 1
        spaces = np.concatenate(([0], np.cumsum((arr == 32) | (arr == 9) | (arr == 13))))
        blank = (ends - starts) == (spaces[ends] - spaces[starts])
        high = np.concatenate(([0], np.cumsum(arr >= 128)))
        returns = np.concatenate(([0], np.cumsum(arr == 13)))
        last_return = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
        stray = (returns[ends] - returns[starts] - last_return) > 0
        bad = ~blank & ((fields != self.columns) | ((ends - starts) > self.limit) | stray)
        for i in np.flatnonzero(~bad & ~blank & ((high[ends] - high[starts]) > 0)):
            try:
                block.data[starts[i] : ends[i]].decode("utf-8")
            except UnicodeDecodeError:
                bad[i] = True
        keep = ~bad & ~blank
        for i in np.flatnonzero(bad):
            line = make_line(block.first + int(i), block.data[starts[i] : ends[i]], self.limit)
            self.rejects.append((line.no, self._reason(line, int(fields[i])), line.raw_text()))
        if keep.all():
            self._write(block.data)
        else:  # write the runs of kept lines
            edges = np.flatnonzero(np.diff(np.concatenate(([0], keep.astype(np.int8), [0]))))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                self._write(block.data[starts[a] : ends[b - 1] + 1])
        self.line_of.frombytes((block.first + np.flatnonzero(keep)).astype(np.int64).tobytes())
        return True

    def _quoted_block(self, block: _Block) -> bool:
        """A block with quotes is kept whole when csv.reader finds one good record per line."""
        try:
            text = block.data.decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True))
        except (UnicodeDecodeError, csv.Error):
            return False
        lines = block.data.count(b"\n")
        if len(rows) != lines or any(len(r) != self.columns and r for r in rows):
            return False
        if any(len(part) > self.limit for part in block.data.split(b"\n")):
            return False
        self._write(block.data)
        self.line_of.frombytes(np.arange(block.first, block.first + lines, dtype=np.int64).tobytes())
        return True

    def _write(self, lines: bytes) -> None:
        """Good single-line records, their line endings made one kind (DuckDB refuses a mix)."""
        self.out.write(lines.replace(b"\r\n", b"\n") if b"\r" in lines else lines)

    def _reason(self, line: Line, fields: int) -> str:
        if line.data is None:
            return line.too_long(self.limit)
        if _stray_return(line.data):
            return STRAY_RETURN
        if fields != self.columns:
            return f"expected {self.columns} fields, found {fields}"
        return "not UTF-8 text: save the file as UTF-8"

    def _record(self, line: Line, feed: _Feed, reader: Iterator[list[str]]) -> tuple[list[Line], int, str]:
        """One record starting at ``line``: (its lines, its number of fields, why it breaks or "")."""
        data = line.data
        if data is None:
            return [line], 0, line.too_long(self.limit)
        if b'"' not in data:  # one line, one record: its fields are counted
            count = data.count(self.delimiter.encode()) + 1 if data.strip() else 0
            return [line], count, STRAY_RETURN if count and _stray_return(data) else ""
        feed.push_back([line])
        feed.taken, feed.size = [], 0
        try:
            fields = next(reader)
        except StopIteration:
            return [], 0, ""
        except csv.Error as exc:
            why = f"misplaced quote ({exc}): quote fields whole"
            if "unexpected end of data" in str(exc):
                why = "a quote opened here is never closed"
            elif "new-line character" in str(exc):
                why = STRAY_RETURN
            return feed.taken, 0, why
        except _TooLong:
            lines = feed.taken
            if len(lines) > MAX_RECORD_LINES:
                return lines, 0, f"a quote opened here is not closed within {MAX_RECORD_LINES:,} lines"
            if len(lines) == 1 and lines[0].data is None:
                return lines, 0, lines[0].too_long(self.limit)
            return lines, 0, f"a quote opened here runs past the {human_size(self.limit)} limit of one record"
        return feed.taken, len(fields), ""

    def _keep_or_reject(self, path: Path, feed: _Feed, lines: list[Line], fields: int, reason: str) -> None:
        if not reason and not fields:
            return  # a blank line
        if not reason and any(_not_utf8(line) for line in lines):
            reason = "not UTF-8 text: save the file as UTF-8"
        if not reason and self.columns is not None and fields != self.columns:
            reason = f"expected {self.columns} fields, found {fields}"
        if reason and self.columns is None:
            raise BadInputError(
                f"the header (line {lines[0].no}) of {path.name} is malformed: {reason}; fix it"
            )
        if reason:
            self.rejects.append((lines[0].no, reason, lines[0].raw_text()))
            feed.push_back(lines[1:])  # read again: they may be good records of their own
            return
        self.columns = self.columns or fields
        for line in lines[:-1]:  # line breaks inside a quoted field are kept as they are
            self.out.write(line.data or b"")
            self.out.write(b"\n")
            self.line_of.append(line.no)
        data = lines[-1].data or b""
        self.out.write(data[:-1] if data.endswith(b"\r") else data)
        self.out.write(b"\n")
        self.line_of.append(lines[-1].no)


def _stray_return(data: bytes) -> bool:
    """A carriage return inside an unquoted line (DuckDB reads it as a line break, then fails)."""
    return b"\r" in (data[:-1] if data.endswith(b"\r") else data)


def _not_utf8(line: Line) -> bool:
    if line.data is None or line.data.isascii():
        return False
    try:
        line.data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
