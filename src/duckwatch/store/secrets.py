"""Channel secrets: one owner-only JSON file, and ``${secret:…}``, ``${env:…}``, ``${file:…}`` references.

A channel's target or config may hold references instead of values; they are resolved only when a
message is sent (alerting/notify.py), so no resolved value is ever written to settings.sqlite, the audit
log, the outbox or an exported monitors file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from duckwatch.config import owner_only
from duckwatch.errors import SecretReferenceError, StorageError

__all__ = [
    "MASK",
    "REFERENCE",
    "Resolver",
    "SecretStore",
    "has_reference",
    "is_mask",
    "reference_problem",
    "references",
    "split_url",
]

SECRETS_FILE = "secrets.json"
MASK = "***"
# ${secret:NAME} (the secret file), ${env:NAME} (the sending process's environment), ${file:/abs/path}.
REFERENCE = re.compile(r"\$\{(secret|env|file):([^}]*)\}")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.@-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def has_reference(text: str) -> bool:
    """Whether ``text`` holds at least one ``${secret|env|file:…}`` reference."""
    return REFERENCE.search(text) is not None


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Every (scheme, name) referenced in a string, or in the strings of a nested dict/list."""
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            yield match[1], match[2]
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def reference_problem(scheme: str, name: str) -> str | None:
    """What is wrong with the shape of one reference (None = well-formed)."""
    if scheme == "secret" and not _SECRET_NAME.match(name):
        return f"${{secret:{name}}}: a secret name uses letters, digits and . _ @ - only"
    if scheme == "env" and not _ENV_NAME.match(name):
        return f"${{env:{name}}}: an environment variable name uses letters, digits and _ (not first)"
    if scheme == "file" and not Path(name).is_absolute():
        return f"${{file:{name}}}: use an absolute path, e.g. ${{file:/run/secrets/smtp_password}}"
    return None


def is_mask(text: str) -> bool:
    """Whether ``text`` is a masked value as the audit log shows it (never a usable secret)."""
    return text == MASK or text.endswith("/" + MASK)


def split_url(url: str) -> tuple[str, str]:
    """(shown, hidden) parts of a webhook URL: ``scheme://host[:port]/`` stays visible, the rest is secret.

    A URL with credentials before the host, or one that cannot be parsed, is hidden whole ("", url).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", url
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        return "", url
    shown = f"{parts.scheme}://{parts.netloc}/"
    if url in (shown, shown[:-1]):
        return url, ""
    if not url.startswith(shown):  # e.g. https://host?token=…: no slash to cut at
        return "", url
    return shown, url[len(shown) :]


class SecretStore:
    """Named secret values in ``secrets.json`` next to settings.sqlite: mode 0600, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, settings_path: Path) -> SecretStore:
        """The secret file of the data dir that holds ``settings_path``."""
        return cls(settings_path.with_name(SECRETS_FILE))

    def load(self) -> dict[str, str]:
        """Every stored secret by name ({} while the file does not exist)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(
                f"cannot read the secret file {self.path} ({exc.strerror}); run duckwatch as the user who owns it"
            ) from exc
        owner_only(self.path)
        try:
            values = json.loads(raw)["secrets"]
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise TypeError("secrets must map names to strings")
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"the secret file {self.path} is damaged; restore it from a backup, or delete it and apply "
                "your monitors files again with the secret values in them"
            ) from exc
        return {str(k): v for k, v in values.items()}

    def get(self, name: str) -> str | None:
        """One secret's value, None if it is not stored."""
        return self.load().get(name)

    def edit(self, change: Callable[[dict[str, str]], None]) -> None:
        """Read, change in place and rewrite the file under an exclusive lock (only when it changed)."""
        with self._locked():
            current = self.load()
            values = dict(current)
            change(values)
            if values != current:
                self._write(values)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(f".{self.path.name}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(
                f"cannot lock {lock} ({exc.strerror}); check the data dir's permissions"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, values: Mapping[str, str]) -> None:
        directory = self.path.parent
        try:
            # mkstemp creates the file 0600 whatever the umask: the value is never readable by others.
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}-", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"version": 1, "secrets": dict(values)}, fh, indent=2, sort_keys=True)
                    fh.write("\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(
                f"cannot write the secret file {self.path} ({exc.strerror}); check free space and permissions"
            ) from exc


class Resolver:
    """Turns references into values at send time and scrubs those values out of error text."""

    def __init__(self, store: SecretStore, environ: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.environ = os.environ if environ is None else environ
        self._stored: dict[str, str] | None = None
        self._used: set[str] = set()

    def value(self, scheme: str, name: str) -> str:
        """The value of one reference; SecretReferenceError (naming the reference, never a value) if missing."""
        problem = reference_problem(scheme, name)
        if problem:
            raise SecretReferenceError(problem)
        if scheme == "secret":
            if self._stored is None:
                self._stored = self.store.load()
            found = self._stored.get(name)
            if found is None:
                raise SecretReferenceError(
                    f"${{secret:{name}}} is not in {self.store.path}: apply the monitors file again with "
                    "the value itself (duckwatch moves it there) or use ${env:NAME}"
                )
        elif scheme == "env":
            found = self.environ.get(name)
            if found is None:
                raise SecretReferenceError(
                    f"${{env:{name}}} is not set: export {name} in the environment of the process that "
                    "sends notifications (`duckwatch schedule` / `duckwatch run`)"
                )
        else:
            try:
                found = Path(name).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretReferenceError(
                    f"${{file:{name}}} cannot be read ({exc.strerror}): create it, readable by the user "
                    "that runs the job"
                ) from None
        if found:
            self._used.add(found)
        return found

    def text(self, value: str) -> str:
        """``value`` with every reference replaced by what it refers to."""
        return REFERENCE.sub(lambda m: self.value(m[1], m[2]), value)

    def tree(self, value: Any) -> Any:
        """A copy of a nested dict/list with every string resolved."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value

    def scrub(self, text: str) -> str:
        """``text`` with every value this resolver produced replaced by the mask (for error messages)."""
        for secret in sorted(self._used, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
