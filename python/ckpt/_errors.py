"""Exceptions raised by ckpt: one class per library error code.

Every error of the C++ library (a ``ckpt::Status``) arrives as an instance of
the subclass of :class:`Error` for its code, carrying the library's message,
which names what failed (checkpoint, tensor, pack, chunk or file). Bad
arguments detected in Python or in the binding raise ``ValueError`` or
``TypeError`` instead.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error the ckpt library reports.

    Attributes:
        code: the library's numeric code (pinned; the CLI's ``--json`` uses it).
        code_name: its stable name, e.g. ``"not found"``.
        message: the library's message, e.g. ``"no checkpoint 'run@7'"``.
    """

    code: int = -1
    code_name: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(Error, KeyError):
    """A ref, run, tensor, tag or file does not exist (also a ``KeyError``)."""

    code, code_name = 1, "not found"


class AlreadyExistsError(Error):
    """RUN@STEP was already saved, a tag names another checkpoint, a store exists."""

    code, code_name = 2, "already exists"


class InvalidArgumentError(Error, ValueError):
    """The library rejected an argument: a bad name, size, ambiguous ref (also a ``ValueError``)."""

    code, code_name = 3, "invalid argument"


class CorruptionError(Error):
    """Stored bytes fail their hash or format check."""

    code, code_name = 4, "corruption"


class StoreIOError(Error, OSError):
    """The operating system reported an I/O failure (also an ``OSError``)."""

    code, code_name = 5, "I/O error"


class NoSpaceError(StoreIOError):
    """The device is full (ENOSPC)."""

    code, code_name = 6, "no space"


class BusyError(Error):
    """Another process held the store lock for longer than ``lock_timeout_ms``."""

    code, code_name = 7, "busy"


class VersionMismatchError(Error):
    """The store was written by a newer format version."""

    code, code_name = 8, "version mismatch"


class NotSupportedError(Error):
    """Not available here, e.g. a write to a store opened ``read_only``."""

    code, code_name = 9, "not supported"


class AbortedError(Error):
    """The operation was cancelled or interrupted."""

    code, code_name = 10, "aborted"


_BY_CODE = {
    cls.code: cls
    for cls in (
        NotFoundError,
        AlreadyExistsError,
        InvalidArgumentError,
        CorruptionError,
        StoreIOError,
        NoSpaceError,
        BusyError,
        VersionMismatchError,
        NotSupportedError,
        AbortedError,
    )
}


def _from_status(code: int, code_name: str, message: str) -> Error:
    """Called by the extension to build the exception of a non-OK Status."""
    cls = _BY_CODE.get(code)
    if cls is None:  # a code newer than this module: still an Error
        err = Error(message)
        err.code, err.code_name = code, code_name
        return err
    return cls(message)
