"""Where a duckwatch data dir lives and which files it holds."""

from __future__ import annotations

import os
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
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> DataDir:
        """Create the directory skeleton (idempotent)."""
        for path in (self.root, self.landing, self.published, self.locks, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        return self


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> DataDir:
    """The data dir from an explicit argument, else $DUCKWATCH_DATA_DIR, else ./data."""
    raw = arg if arg is not None else os.environ.get(DATA_DIR_ENV) or "data"
    return DataDir(Path(raw).expanduser().resolve())
