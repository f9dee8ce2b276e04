"""The byte copy of a Parquet file being landed, made and fsynced by a thread (no heavy imports).

Copying 175 MB and waiting for the disk takes ~0.3 s; it runs while the process imports DuckDB,
opens the settings and validates the file. Nothing is visible until ``seal`` renames the copy to
its final name, which ``landing_files`` does only after validation passed and the read plan is
durable. An unsealed copy keeps its ``.tmp-`` name (never listed; swept once its process has ended, see
landing_temp.py) and is deleted by ``discard``.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from duckwatch.errors import BadInputError
from duckwatch.store.landing_temp import temp_path


class BackgroundCopy:
    """A byte copy of ``source`` under a temp name in ``folder``, written and fsynced by a thread."""

    def __init__(self, source: Path, folder: Path) -> None:
        self.source = source
        self.folder = folder
        self.tmp = temp_path(folder, "")
        self._stat = _identity(source)
        self._error: BaseException | None = None
        self._done = False
        folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="duckwatch-seal-copy")
        self._thread.start()

    def _run(self) -> None:
        try:
            shutil.copyfile(self.source, self.tmp)
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException as exc:  # handed to the caller by seal()
            self._error = exc

    def seal(self, final: Path) -> None:
        """Wait until the copy is complete and durable, then rename it to ``final`` (fsync the folder after)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if _identity(self.source) != self._stat:
            raise BadInputError(
                f"{self.source} changed while it was being ingested: ingest it again once it is complete"
            )
        seal_new(self.tmp, final)
        self._done = True

    def discard(self) -> None:
        """Wait for the thread and delete the copy unless it was sealed (idempotent)."""
        self._thread.join()
        if not self._done:
            self._done = True
            self.tmp.unlink(missing_ok=True)


def seal_new(tmp: Path, final: Path) -> bool:
    """Rename ``tmp`` to ``final`` unless ``final`` exists: a sealed file is never replaced.

    Sealed names are batch ids, and a batch id names its content, so a file already there holds the
    same rows (a retried batch): the temp file is dropped and False returned. A hard link is the
    atomic "rename unless it exists" of POSIX; where links are refused, an existence check stands in.
    """
    try:
        os.link(tmp, final)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        return False
    except OSError:
        if final.exists():
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, final)
        return True
    tmp.unlink()
    return True


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def start_copy(source: Path, landing: Path, stream: str, model: str) -> BackgroundCopy:
    """Start copying ``source`` into the landing folder of ``stream``/``model`` (``model`` checked by the caller)."""
    return BackgroundCopy(source, landing / stream / model)
