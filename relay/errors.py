"""Relay's error tree, split by what the caller must do, and drawn below as httpx draws its own.

::

    RelayError                      base; never raised itself
    ├── ConfigError                 bad configuration: stop start-up, list every problem
    ├── TemporaryError              try again later (optionally not before retry_after s)
    │   ├── StoreUnavailable        the store cannot commit now (disk full, locked, down)
    │   ├── RateLimited             Salesforce daily/concurrent limits: pause writes
    │   └── OutcomeUnknown          a write may or may not have been applied: reconcile first
    └── PermanentError              will not succeed as is: hold or quarantine, with a reason
        ├── NeedsAttention          a person must act (setting, permission, address): hold
        │   └── ApiDisabled         API_DISABLED_FOR_ORG: fall back to Email to Salesforce
        ├── RecordChanged           a record the Task points at was deleted, merged or
        │                           converted since matching: re-match once
        └── Unprocessable           the message itself is bad: quarantine

Every error carries a ``reason`` written for a person: what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence


class RelayError(Exception):
    """Base of every error Relay raises on purpose."""

    code: str | None = None
    """The other side's error code that decided the class (Salesforce's ``errorCode``),
    when there was one."""
    said: str | None = None
    """What the other side said (Salesforce's codes and messages, an HTTP status, the
    exception), without the advice in ``reason``: for a caller other than the email
    pipeline that words its own guidance (the Task sync, relay/tasksync/wording.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(RelayError):
    """The configuration is invalid; each problem is one line an admin can act on."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class TemporaryError(RelayError):
    """A transient failure: retry later, not before ``retry_after`` seconds if given."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class StoreUnavailable(TemporaryError):
    """The store could not commit (for example ENOSPC, a lock, or the server is down)."""


class RateLimited(TemporaryError):
    """Salesforce refused for API limits; pause writes, keep accepting mail."""


class OutcomeUnknown(TemporaryError):
    """A non-idempotent write failed in a way that hides whether Salesforce applied it
    (read timeout, connection reset, 500): look the records up before writing again."""


class PermanentError(RelayError):
    """Retrying as is will not help."""


class NeedsAttention(PermanentError):
    """A person must change something (a setting, a permission, an address): hold."""


class ApiDisabled(NeedsAttention):
    """The org refused API access (API_DISABLED_FOR_ORG, API_CURRENTLY_DISABLED): Relay
    forwards the email to the rep's Email-to-Salesforce address instead."""


class RecordChanged(PermanentError):
    """A record the write names no longer takes it (deleted, merged, converted lead):
    match the message again, once, against a fresh directory."""


class Unprocessable(PermanentError):
    """The message cannot be processed as it is: quarantine and keep the raw bytes."""
