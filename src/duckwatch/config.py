"""Where a duckwatch data dir lives and which files it holds."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "DUCKWATCH_DATA_DIR"
STREAMS = ("predictions", "outcomes", "inputs")


@dataclass(frozen=True)
class DataDir:
    """The layout of one data dir (see DESIGN.md: landing, warehouse, published, settings)."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def settings(self) -> Path:
        return self.root / "settings.sqlite"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> DataDir:
        """Create the directory skeleton, owner-only (idempotent); tighten an existing root we own."""
        # The data dir holds settings.sqlite and secrets.json: nobody but its owner should list or read it.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only(self.root)
        for path in (self.landing, self.published, self.locks, self.logs):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self


def owner_only(path: Path) -> None:
    """Drop group/other permission bits of ``path`` if this user owns it; best effort, never raises."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    except OSError:
        pass  # not ours, or a read-only file system: the data stays as protected as it was


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> DataDir:
    """The data dir from an explicit argument, else $DUCKWATCH_DATA_DIR, else ./data."""
    raw = arg if arg is not None else os.environ.get(DATA_DIR_ENV) or "data"
    return DataDir(Path(raw).expanduser().resolve())
