"""Malformed CSV quoting: only the broken line is set aside (with its reason and raw text); its
neighbours land, with quoted fields unquoted, whatever the mix of quoting around it."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckwatch.config import DataDir
from duckwatch.store import catalog
from duckwatch.store.files import read_file
from duckwatch.store.landing import pending
from duckwatch.store.settings import Settings
from tests.conftest import run_cli

REPRO = 'id,score,comment\nr1,0.1,"hello, world"\nr2,0.2,"bad quote\nr3,0.3,"x, y"\nr4,0.4,plain\n'


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def test_one_bad_quote_sets_aside_its_line_only(data_dir: DataDir, tmp_path: Path) -> None:
    src = tmp_path / "preds.csv"
    src.write_text(REPRO, encoding="utf-8")
    done = _cli(data_dir, "ingest", "predictions", str(src), "--model", "m", "--id-col", "id")
    assert done.returncode == 0, done.stderr
    assert "3 rows landed" in done.stdout and "1 quarantined" in done.stdout
    assert "line 3: " in done.stdout and "quote" in done.stdout
    landed = pq.read_table(pending(data_dir.landing, "predictions", "m")).to_pylist()
    col_id = {c.name: c.col_id for c in catalog.get_columns(Settings(data_dir.settings), "m")}["comment"]
    comments = {row["_id"]: row[col_id] for row in landed}
    assert comments == {"r1": "hello, world", "r3": "x, y", "r4": "plain"}  # unquoted, none lost
    [quarantined] = pq.read_table(pending(data_dir.landing, "quarantine", "m")).to_pylist()
    assert quarantined["_row"] == 3 and quarantined["_raw"] == 'r2,0.2,"bad quote'
    assert "quote" in quarantined["_reason"]


def test_quote_errors_of_every_kind_leave_the_good_records_whole(tmp_path: Path) -> None:
    src = tmp_path / "mixed.csv"
    src.write_text(
        "id,n,text\n"
        'a1,1,"two\nlines, kept"\n'  # a legitimate quoted newline: one record over two lines
        'a2,2,"x"y\n'  # text after a closing quote
        'a3,3,"say ""hi"""\n'  # doubled quotes inside a quoted field
        "a4,4,5'10\"\n"  # a quote inside an unquoted field is a character
        "a5,5,too,many\n"  # no quote, one field too many
        'a6,6,"never closed\n'
        "a7,7,last\n",
        encoding="utf-8",
    )
    read = read_file(src)
    rows = {r["id"]: r["text"] for r in read.table.to_pylist()}
    assert rows == {"a1": "two\nlines, kept", "a3": 'say "hi"', "a4": "5'10\"", "a7": "last"}
    assert [(line, raw) for line, _, raw in read.rejects] == [
        (4, 'a2,2,"x"y'),
        (7, "a5,5,too,many"),
        (8, 'a6,6,"never closed'),
    ]
    reasons = [reason for _, reason, _ in read.rejects]
    assert (
        "quote" in reasons[0] and "expected 3 fields, found 4" in reasons[1] and "never closed" in reasons[2]
    )


def test_a_big_file_with_one_bad_line_keeps_every_other_row(tmp_path: Path) -> None:
    # Many 1 MiB blocks: quote-free ones, fully quoted ones, and the one holding the bad line.
    lines = ["id,score,note"]
    for i in range(60_000):
        lines.append(f'r{i},{i / 60_000:.5f},"n, {i}"' if i % 2 else f"r{i},{i / 60_000:.5f},plain {i}")
        if i == 41_234:
            lines.append('bad,0.5,"unclosed, and 1,000 lines of no quotes follow')
    src = tmp_path / "big.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_file(src)
    assert read.table.num_rows == 60_000
    assert [line for line, _, _ in read.rejects] == [41_237]
    notes = read.table.column("note").to_pylist()
    assert notes[41_235] == "n, 41235" and notes[41_236] == "plain 41236"


TEXT = st.text(alphabet=st.sampled_from('abc xyz,"\n\u00e9\u6f22;|'), min_size=1, max_size=12)
BAD_LINES = st.sampled_from(
    [
        ('{id},0.5,"open quote', "quote"),
        ('{id},0.5,"closed"then text', "quote"),
        ("{id},0.5,one,too,many", "expected 3 fields"),
        ("{id},0.5", "expected 3 fields"),
        ("{id},0.5,\udcff\udcfe", "UTF-8"),
    ]
)


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, dict[str, tuple[float, str]], dict[int, str]]:
    """A CSV file, its good rows by id, and its bad lines (line number -> reason fragment)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC])))
    writer.writerow(["id", "score", "text"])
    good: dict[str, tuple[float, str]] = {}
    bad: dict[int, str] = {}
    line = 2
    for i in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 4)) == 0:
            template, fragment = draw(BAD_LINES)
            out.write(template.format(id=f"bad{i}") + "\n")
            bad[line] = fragment
            line += 1
            continue
        # A quoted field never starts with a delimiter or a quote, so a stray quote before it can
        # never close on it cleanly (that would be a valid, if surprising, multi-line field).
        text = "t" + draw(TEXT)
        score = draw(st.floats(0, 1, allow_nan=False))
        writer.writerow([f"g{i}", score, text])
        good[f"g{i}"] = (score, text)
        line += 1 + text.count("\n")
    return out.getvalue().encode("utf-8", "surrogateescape"), good, bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=files())
def test_generated_files_land_every_good_row_and_only_bad_lines_are_set_aside(
    tmp_path: Path, case: tuple[bytes, dict[str, tuple[float, str]], dict[int, str]]
) -> None:
    data, good, bad = case
    src = tmp_path / "gen.csv"
    src.write_bytes(data)
    read = read_file(src)
    landed = {str(r["id"]): (float(r["score"]), str(r["text"])) for r in read.table.to_pylist()}
    assert landed == good
    assert sorted(line for line, _, _ in read.rejects) == sorted(bad)
    for line, reason, raw in read.rejects:
        assert bad[line] in reason, (line, reason, raw)
        assert raw.startswith("bad")
