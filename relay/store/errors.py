"""Errors the store raises, and how low-level failures become ``StoreUnavailable``.

::

    RelayError
    ├── UnknownMessage (also KeyError)       no message has this queue id
    ├── InvalidTransition (also ValueError)  the message is not in a state that allows it
    │   └── LeaseLost                        another worker claimed it after this
    │                                        worker's lease expired
    └── TemporaryError
        └── StoreUnavailable                 the database failed: locked, down, disk full,
                                             damaged (see describe_failure); also what
                                             unavailable_on_failure raises for a
                                             SQLAlchemy or sqlite3 error
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from relay.errors import RelayError, StoreUnavailable


class UnknownMessage(RelayError, KeyError):
    """No message with this queue id (it never existed or was deleted)."""

    def __init__(self, queue_id: str) -> None:
        super().__init__(
            f"no message with queue id {queue_id!r}; `relay queue list --state all` shows them"
        )
        self.queue_id = queue_id

    def __str__(self) -> str:
        # KeyError would print repr(reason) with quotes; a person reads this.
        return self.reason


class InvalidTransition(RelayError, ValueError):
    """The operation does not apply to a message in its current state."""

    def __init__(self, queue_id: str, operation: str, current: str, allowed: str) -> None:
        super().__init__(
            f"cannot {operation} message {queue_id}: it is {current} "
            f"({operation} applies to messages that are {allowed})"
        )
        self.queue_id = queue_id
        self.operation = operation
        self.current = current


class LeaseLost(InvalidTransition):
    """The worker finishing a message no longer holds its lease: the lease expired and
    another worker claimed the message (docs/design.md §2). Its outcome belongs to the new
    owner; the stale one is refused, as any other outcome of a message that moved on."""

    def __init__(self, queue_id: str, operation: str, worker: str, owner: str | None) -> None:
        RelayError.__init__(
            self,
            f"cannot {operation} message {queue_id}: {worker} lost its lease on it; "
            f"{owner or 'another worker'} claimed it after the lease expired",
        )
        self.queue_id = queue_id
        self.operation = operation
        self.current = "processing"
        self.worker = worker
        self.owner = owner


def describe_failure(error: BaseException) -> str:
    """A readable reason for a failed write, naming the cause an admin can act on."""
    original: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        original = error.orig
    if isinstance(original, OSError) and original.errno == errno.ENOSPC:
        return "no space left on device (ENOSPC); free disk space under RELAY_HOME"
    if isinstance(original, OSError) and original.errno == errno.EROFS:
        return "the file system is read-only (EROFS)"
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    if isinstance(original, sqlite3.DatabaseError):
        if "disk is full" in text:
            return "SQLite: database or disk is full; free disk space under RELAY_HOME"
        if "locked" in text or "busy" in text:
            return f"SQLite: {text} (another process holds the write lock too long)"
        if "malformed" in text or "not a database" in text:
            return f"SQLite: {text} (the file is damaged; `relay doctor` says what to do)"
        return f"SQLite: {text}"
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return f"lost the connection to the database: {text}"
    return f"{type(original).__name__}: {text}" if text else type(original).__name__


def store_unavailable(error: BaseException) -> StoreUnavailable:
    """Wrap any failure of a write as StoreUnavailable (the SMTP edge answers 451 4.3.0)."""
    return StoreUnavailable(f"the store cannot commit: {describe_failure(error)}")


def as_store_unavailable(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable a failed store call amounts to, or None if it is not one.

    A lock held too long, a lost connection, a full disk or a damaged file are conditions
    of the database, not of the message being processed: the caller waits and tries
    again. An integrity error is left out: it is a fault of the data written, and
    retrying the same write cannot help.
    """
    if isinstance(error, StoreUnavailable):
        return error
    if isinstance(error, sa_exc.IntegrityError | sqlite3.IntegrityError):
        return None
    if isinstance(error, sa_exc.DBAPIError | sqlite3.Error):
        return store_unavailable(error)
    return None


P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on_failure(method: Callable[P, R]) -> Callable[P, R]:
    """Decorator for store methods: a database failure is raised as StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except Exception as error:
            unavailable = as_store_unavailable(error)
            if unavailable is None or unavailable is error:
                raise
            raise unavailable from error

    return wrapper
