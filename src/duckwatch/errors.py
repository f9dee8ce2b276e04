"""Exception types raised at duckwatch's boundaries; messages say what was wrong and what to do."""

from __future__ import annotations


class DuckwatchError(Exception):
    """Base class for every error duckwatch raises on purpose."""


class BadInputError(DuckwatchError, ValueError):
    """The caller's input cannot be used; the message names the problem and the fix."""


class StorageError(DuckwatchError):
    """A data file could not be read or written; the message names the file and the fix."""


class CollectorRefusedError(DuckwatchError):
    """The collector's buffer is full (disk full or flush failing); rows were refused and counted."""


class PermissionDeniedError(DuckwatchError):
    """The current user's role does not allow this action."""


class KeyConflictError(BadInputError):
    """The idempotency key was already used for a different batch; nothing was written."""


class KeyInFlightError(DuckwatchError):
    """A request with this idempotency key is still being written; retry once it has answered."""


class SecretReferenceError(BadInputError):
    """A ``${secret:…}``, ``${env:…}`` or ``${file:…}`` reference cannot be used; never carries the value."""
