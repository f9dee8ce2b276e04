"""The HTTP collector's bearer token: from --token, --token-file, $DUCKWATCH_TOKEN or the data dir's file.

A collector always requires a token. When none is given, the first start generates one into
``DATA/collector.token`` (mode 0600, owner only) and every later start reuses it, so clients on this
machine read it from there. Only the file's path is printed, never the token: collector output
often ends up in log files, terminals and CI logs that other people read.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from duckwatch.config import owner_only
from duckwatch.errors import BadInputError, StorageError

TOKEN_ENV = "DUCKWATCH_TOKEN"
TOKEN_FILE = "collector.token"
# Printable ASCII without spaces: what an ``Authorization: Bearer <token>`` header can carry.
_TOKEN_RE = re.compile(r"^[!-~]{1,512}$")


@dataclass(frozen=True)
class Token:
    """A token and where it came from (said in 401 answers and at start, never the value itself)."""

    value: str
    source: str
    created: bool = False


def token_path(data_root: str | os.PathLike[str]) -> Path:
    """The data dir's token file (it may not exist yet)."""
    return Path(data_root) / TOKEN_FILE


def resolve_token(
    data_root: str | os.PathLike[str],
    *,
    token: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Token:
    """The token to require: ``token``, else ``token_file``, else $DUCKWATCH_TOKEN, else the data dir's file."""
    env = os.environ if environ is None else environ
    if token is not None:
        return Token(checked_token(token, "--token"), "--token")
    if token_file is not None:
        path = Path(token_file).expanduser()
        return Token(_read(path, missing_hint="create it, or leave --token-file out"), str(path))
    if env.get(TOKEN_ENV):
        return Token(checked_token(env[TOKEN_ENV], f"${TOKEN_ENV}"), f"${TOKEN_ENV}")
    return _data_dir_token(token_path(data_root))


def checked_token(value: str, where: str) -> str:
    """``value`` stripped, if a header can carry it; otherwise a BadInputError saying what to use."""
    value = value.strip()
    if not _TOKEN_RE.match(value):
        raise BadInputError(
            f"the token from {where} must be 1-512 printable ASCII characters without spaces "
            "(it travels in an HTTP header), e.g. the output of: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    return value


def _read(path: Path, *, missing_hint: str) -> str:
    try:
        raw = path.read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise BadInputError(f"the token file {path} does not exist: {missing_hint}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise BadInputError(
            f"cannot read the token file {path} ({why}): run as its owner, or write a new token into it"
        ) from exc
    owner_only(path)  # a token file readable by others would let them write rows
    return checked_token(raw, str(path))


def _data_dir_token(path: Path) -> Token:
    if path.exists():
        return Token(_read(path, missing_hint="restart the collector to generate one"), str(path))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        # mkstemp creates the file 0600 whatever the umask; link() publishes it only if no other
        # process created the token first (then that one wins and both use it).
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(value + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except FileExistsError:
        return Token(_read(path, missing_hint="restart the collector to generate one"), str(path))
    except OSError as exc:
        raise StorageError(
            f"cannot create the token file {path} ({exc.strerror}): make the data dir writable, "
            f"or give a token with --token-file or ${TOKEN_ENV}"
        ) from exc
    return Token(value, str(path), created=True)


__all__ = ["TOKEN_ENV", "TOKEN_FILE", "Token", "checked_token", "resolve_token", "token_path"]
