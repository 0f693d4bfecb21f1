"""The store's interface in four parts, one per group of tables.

``relay.store.model.Store`` is the four together and is what the daemon, the runners,
the CLI and the tests hold. A caller that needs one part only may name that part
instead: a structural type, so anything with those methods fits.

- ``MessageQueue``: the queue (``messages``, ``message_bodies``, ``transitions``),
  implemented in intake.py, queue_reads.py, claims.py, state_changes.py and
  readiness.py, which sql_store.py puts together;
- ``DeliveryRecords``: the delivery ledger and unresolved items (``deliveries``,
  ``unresolved``), implemented in ledger.py;
- ``RepRecords``: reps, sender aliases, sync settings and notices (``reps``,
  ``reps_sync``, ``senders``, ``settings``, ``notices``), implemented in reps.py;
- ``ChangeFeed``: the change versions (``change_versions``) that tell every process
  that the reps, the queue or the reminders changed, implemented in changes.py;
- ``ReminderRecords``: the reps' reminders and their digests (``reminders``,
  ``reminder_digests``), implemented in reminders.py.

Retention (retention.py) and erasure (erasure.py) are not part of ``Store``: only the
retention runner and ``relay queue purge`` / ``relay forget`` use them, on a SqlStore.
"""

from __future__ import annotations

import abc
import builtins
import contextvars
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from structlog.contextvars import bind_contextvars

from relay.envelope import Envelope
from relay.store.values import (
    ChangeVersions,
    Delivery,
    Outcome,
    Reminder,
    Rep,
    SenderAlias,
    State,
    StoredMessage,
    Transition,
    UnresolvedItem,
)


class MessageQueue(Protocol):
    """Accepting, claiming, finishing and administering messages.

    Methods are synchronous and thread-safe; the SMTP edge and the runners call them from
    worker threads, never on the event loop. ``enqueue`` returns only after the message
    is durably committed: its return is what lets the SMTP edge answer 250.
    """

    @abc.abstractmethod
    def enqueue(self, raw: bytes, envelope: Envelope, received_at: datetime) -> str:
        """Commit raw bytes + envelope durably and return the new queue id (state queued)."""

    def enqueue_nowait(
        self,
        raw: bytes,
        envelope: Envelope,
        received_at: datetime,
        log_fields: Mapping[str, Any] | None = None,
    ) -> Future[str]:
        """Start ``enqueue`` and return at once; the Future gets the queue id after the
        durable commit, or the error (StoreUnavailable) if the commit failed.

        For callers on an event loop (the SMTP edge awaits ``asyncio.wrap_future``), so
        no thread has to block for them. ``log_fields`` are added to the
        ``message_queued`` event (the edge's TLS version, for example). This default
        runs ``enqueue`` on a thread of its own; SqlStore hands back its group-commit
        Future instead.
        """
        done: Future[str] = Future()
        context = contextvars.copy_context()
        fields = dict(log_fields or {})

        def run() -> None:
            if fields:
                bind_contextvars(**fields)
            try:
                done.set_result(self.enqueue(raw, envelope, received_at))
            except BaseException as error:  # the caller hears of every failure
                done.set_exception(error)

        threading.Thread(target=context.run, args=(run,), name="relay-enqueue", daemon=True).start()
        return done

    @abc.abstractmethod
    def get(self, queue_id: str) -> StoredMessage | None: ...

    @abc.abstractmethod
    def raw(self, queue_id: str) -> bytes:
        """The raw bytes exactly as received. UnknownMessage (a KeyError) if unknown;
        RawPurged (relay/store/retention.py) if retention or an admin purged them."""

    @abc.abstractmethod
    def list(
        self, states: Collection[State] | None = None, limit: int | None = None
    ) -> Sequence[StoredMessage]:
        """Messages in the given states (all if None), oldest first."""

    @abc.abstractmethod
    def counts(self) -> dict[State, int]:
        """Number of messages per state (for /metrics and `relay doctor`)."""

    @abc.abstractmethod
    def transitions(self, queue_id: str) -> Sequence[Transition]: ...

    @abc.abstractmethod
    def claim(
        self, limit: int, worker: str, lease_seconds: float, lane: str = "any"
    ) -> Sequence[StoredMessage]:
        """Move up to ``limit`` due messages (queued, or deferred past not_before) to
        processing under a lease, and return them; attempts is incremented. ``lane``:
        ``any`` (live mail first, then imported mail), ``live`` or ``imported`` (only
        while no live mail is due; relay/store/claims.py)."""

    @abc.abstractmethod
    def renew_leases(
        self, queue_ids: Collection[str], worker: str, lease_seconds: float
    ) -> frozenset[str]:
        """Extend ``worker``'s leases on these messages to ``lease_seconds`` from now;
        return the ids it still holds (``processing`` under its name). A missing id is a
        lost lease: another worker claimed the message, or a person acted on it."""

    @abc.abstractmethod
    def finish(
        self,
        queue_id: str,
        state: State,
        reason: str | None = None,
        *,
        worker: str | None = None,
    ) -> None:
        """Record the outcome of processing (logged/unresolved/held/quarantined/rejected).
        With ``worker``, LeaseLost if another worker holds the message's lease now."""

    @abc.abstractmethod
    def defer(
        self, queue_id: str, not_before: datetime, reason: str, *, worker: str | None = None
    ) -> None:
        """Processing failed transiently; retry not before ``not_before``. With
        ``worker``, LeaseLost if another worker holds the message's lease now."""

    @abc.abstractmethod
    def recover(self) -> int:
        """At start-up, before claiming: requeue messages left in processing whose lease
        expired or whose owner is a process of this host that is gone (never a live
        process's lease). Returns how many were requeued."""

    @abc.abstractmethod
    def retry(self, queue_id: str) -> None:
        """Admin: requeue now (any state but processing)."""

    @abc.abstractmethod
    def hold(self, queue_id: str, reason: str) -> None:
        """Admin or runner: hold for a person."""

    @abc.abstractmethod
    def release(self, queue_id: str) -> None:
        """Admin: a held message goes back to queued."""

    @abc.abstractmethod
    def delete(self, queue_id: str) -> None:
        """Admin: remove a message and its history for good."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise StoreUnavailable if a write cannot be committed now (/readyz)."""

    def wait_for_work(self, timeout: float) -> None:
        """Block until work may be due (a message was queued, retried, released or
        recovered) or ``timeout`` seconds pass; return at once if work arrived since this
        thread's previous wait. Runners call it when ``claim`` returned nothing. Spurious
        returns are allowed: always claim again after it. The default just sleeps."""
        time.sleep(max(timeout, 0.0))

    def live_in_flight(self) -> bool:
        """Whether live mail (not imported) is due or being processed under a lease now:
        the import lane gives way to it between the steps of a gathered write
        (relay/runners/import_lane.py). The default store has no lanes: False."""
        return False

    def notify_work(self) -> None:
        """Wake this process's ``wait_for_work`` callers: another process on this node
        committed work (relay/wakeups.py). The default store only sleeps: nothing to wake."""

    @abc.abstractmethod
    def close(self) -> None: ...


class DeliveryRecords(Protocol):
    """The delivery ledger (exactly-once Task writes) and unresolved items."""

    @abc.abstractmethod
    def finish_many(
        self,
        outcomes: Sequence[Outcome],
        *,
        written: Mapping[str, str] | None = None,
        unresolved_items: Sequence[UnresolvedItem] = (),
        worker: str | None = None,
        reminders: Sequence[Reminder] = (),
    ) -> None:
        """Record many outcomes (finish or defer), mark Tasks written (relay key -> Task
        id), add unresolved items and the reminders emails asked for (those not added
        before: ``ReminderRecords.add_reminders``), all in one transaction. With
        ``worker``, LeaseLost (and nothing recorded) if another worker holds one of the
        messages' lease now."""

    @abc.abstractmethod
    def record_intents(self, intents: Sequence[Delivery]) -> None:
        """Before writing Tasks: commit an ``intent`` per relay key not yet in the ledger."""

    @abc.abstractmethod
    def mark_written(self, written: Mapping[str, str]) -> None:
        """relay key -> Task id: these Tasks exist in Salesforce."""

    @abc.abstractmethod
    def record_delivery(self, delivery: Delivery) -> None:
        """Insert or replace one ledger row (an assigned unresolved Task)."""

    @abc.abstractmethod
    def deliveries_for_keys(self, relay_keys: Collection[str]) -> dict[str, Delivery]: ...

    @abc.abstractmethod
    def deliveries_for_messages(self, message_keys: Collection[str]) -> builtins.list[Delivery]: ...

    @abc.abstractmethod
    def known_threads(self, message_keys: Collection[str]) -> dict[str, tuple[str, ...]]:
        """message key -> the record ids its written Tasks show on."""

    @abc.abstractmethod
    def list_unresolved(
        self, states: Collection[str] | None = ("open",)
    ) -> builtins.list[UnresolvedItem]: ...

    @abc.abstractmethod
    def get_unresolved(self, item_id: str) -> UnresolvedItem | None: ...

    @abc.abstractmethod
    def resolve_unresolved(self, item_id: str, state: str, record_id: str | None = None) -> None:
        """Close an item as ``assigned`` (to ``record_id``) or ``discarded``."""


class RepRecords(Protocol):
    """Sender aliases, the rep snapshot, settings overrides and notice throttling."""

    @abc.abstractmethod
    def add_sender(self, alias: str, user_id: str, username: str) -> SenderAlias:
        """Register (or move) an acceptable sender address; addresses are lower-cased."""

    @abc.abstractmethod
    def remove_sender(self, alias: str) -> bool:
        """Forget an alias; False if it was not registered."""

    @abc.abstractmethod
    def list_senders(self, user_id: str | None = None) -> builtins.list[SenderAlias]: ...

    @abc.abstractmethod
    def replace_reps(self, reps: Sequence[Rep], synced_at: datetime) -> None:
        """Replace the rep snapshot with ``reps`` (one transaction) and record the sync."""

    @abc.abstractmethod
    def list_reps(self) -> builtins.list[Rep]: ...

    @abc.abstractmethod
    def reps_synced_at(self) -> datetime | None:
        """When the rep snapshot was last replaced; None if never (fail open)."""

    @abc.abstractmethod
    def setting_overrides(self) -> dict[str, dict[str, str]]:
        """scope (``org`` or a User id) -> key -> value, every stored override."""

    @abc.abstractmethod
    def set_setting(self, scope: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def clear_setting(self, scope: str, key: str) -> bool:
        """Remove one override; False if there was none."""

    @abc.abstractmethod
    def claim_notice(
        self, user_id: str, problem: str, now: datetime, min_interval: timedelta
    ) -> bool:
        """True (and record ``now``) if no notice for this rep and problem was sent in the
        last ``min_interval``: the caller then sends it. Atomic across nodes."""


class ChangeFeed(Protocol):
    """Change versions: a counter per topic (``reps``: aliases, the reps sync, settings;
    ``queue``: retry, hold, release, delete), bumped in the transaction of each change,
    so every process of every node can tell within a second that it must re-read."""

    @abc.abstractmethod
    def change_versions(self) -> ChangeVersions:
        """The current versions (one indexed read)."""

    @abc.abstractmethod
    def wait_for_change(
        self,
        since: ChangeVersions,
        timeout: float,
        topics: Collection[str] | None = None,
    ) -> ChangeVersions:
        """Block until a version of ``topics`` (all if None) differs from ``since`` or
        ``timeout`` passes; return the current versions (at once if they already differ)."""


class ReminderRecords(Protocol):
    """The reps' reminders (relay/store/reminders.py). A deleted reminder is kept (soft
    delete) but no read shows it unless asked."""

    @abc.abstractmethod
    def add_reminders(self, items: Sequence[Reminder]) -> int:
        """Insert the reminders not stored yet (an email's ``source_key`` + owner is
        unique: a second copy adds nothing); return how many were added."""

    @abc.abstractmethod
    def get_reminder(self, reminder_id: str, *, deleted: bool = False) -> Reminder | None:
        """One reminder, None if unknown (or deleted, unless ``deleted``)."""

    @abc.abstractmethod
    def list_reminders(
        self,
        owner_ids: Collection[str] | None = None,
        *,
        status: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
    ) -> builtins.list[Reminder]:
        """Reminders not deleted, by due date: of these reps (all if None), in this
        status (any if None), due in ``[due_from, due_to]`` (either end open if None)."""

    @abc.abstractmethod
    def edit_reminder(self, reminder_id: str, **changes: Any) -> Reminder:
        """Change ``subject``, ``details``, ``due``, ``priority`` or ``status`` and return
        the reminder; UnknownReminder (a KeyError) if unknown or deleted."""

    @abc.abstractmethod
    def delete_reminder(self, reminder_id: str) -> None:
        """Soft-delete; UnknownReminder (a KeyError) if unknown or deleted already."""

    @abc.abstractmethod
    def claim_digest(self, user_id: str, day: date, now: datetime) -> bool:
        """True (and the claim committed) if nobody claimed this rep's digest of ``day``
        (the rep's date) yet: the caller then sends it. Atomic across nodes."""

    @abc.abstractmethod
    def release_digest(self, user_id: str, day: date) -> None:
        """Give up a claim whose digest could not be sent, so a later pass tries again."""
