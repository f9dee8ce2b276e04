"""Settings.batch: one connection and one transaction for many reads and writes of this thread."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from duckwatch.config import DataDir
from duckwatch.store.settings import Settings


def _rows(settings: Settings) -> list[str]:
    return [r["name"] for r in settings.query("SELECT name FROM batch_probe ORDER BY id")]


@pytest.fixture
def settings(data_dir: DataDir) -> Settings:
    s = Settings(data_dir.settings)
    with s.write() as con:
        con.execute("CREATE TABLE batch_probe (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    return s


def test_writes_commit_together_and_reads_see_them_on_the_same_connection(settings: Settings) -> None:
    with settings.batch():
        with settings.write() as con:
            con.execute("INSERT INTO batch_probe (name) VALUES ('a')")
        assert _rows(settings) == ["a"]  # this thread reads its own uncommitted write
        # Another connection does not see it before the batch commits.
        other = sqlite3.connect(settings.path)
        assert other.execute("SELECT count(*) FROM batch_probe").fetchone() == (0,)
        with settings.batch(), settings.write() as con:  # nested: the same transaction
            con.execute("INSERT INTO batch_probe (name) VALUES ('b')")
    assert other.execute("SELECT name FROM batch_probe ORDER BY id").fetchall() == [("a",), ("b",)]
    other.close()


def test_a_failing_write_rolls_back_alone_and_completed_writes_are_kept(settings: Settings) -> None:
    with pytest.raises(RuntimeError, match="late"), settings.batch():
        with settings.write() as con:
            con.execute("INSERT INTO batch_probe (name) VALUES ('kept')")
        with pytest.raises(sqlite3.IntegrityError), settings.write() as con:
            con.execute("INSERT INTO batch_probe (name) VALUES ('undone')")
            con.execute("INSERT INTO batch_probe (name) VALUES (NULL)")
        raise RuntimeError("late")
    assert _rows(settings) == ["kept"]  # as when every write committed on its own


def test_other_threads_keep_their_own_connections(settings: Settings) -> None:
    seen: list[list[str]] = []
    with settings.batch():
        with settings.write() as con:
            con.execute("INSERT INTO batch_probe (name) VALUES ('pending')")
        reader = threading.Thread(target=lambda: seen.append(_rows(settings)))
        reader.start()
        reader.join()
    assert seen == [[]]  # the batch's uncommitted row is not visible to another thread
    assert _rows(settings) == ["pending"]
