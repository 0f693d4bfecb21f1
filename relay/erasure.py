"""Erasure for a data-subject request: `relay forget EMAIL` (docs/operations.md,
"Retention and erasure").

What names an address (``names_address``, pure):

- the envelope (MAIL FROM, RCPT TO) and the stored Subject, Message-ID and reasons;
- the raw bytes anywhere (headers, quoted text, a forwarded original, a signature),
  matched as a whole address, case-insensitively;
- every address the parser finds, as the matcher saw them: From, To, Cc, Bcc, Reply-To,
  Sender, a forwarded original's and a journal report's (this also finds an address
  that is only inside an encoded part or an RFC 2047 header).

What is removed (``forget``): those messages with their raw bytes and history, their
unresolved items and any other item whose sender is the address, and the address's
sender aliases. When the address is a rep's (a User's email or username in the rep
snapshot), also the rep's own data: their reminders (with what the Task sync stored on
them, and the ones it imported), their Task-sync state, and the rows of the console's
audit list made by them or about them (their User id or one of their reminders as the
target) or naming the address. Another rep's reminder that names the address keeps
its place, rewritten without it (``ERASED``). What is kept: the delivery ledger rows of
those messages (relay keys, Message-IDs or their hash, Salesforce record and Task ids;
no address), so a late copy
of an erased email is still recognised and never logged twice. Relay does not delete
CRM data: the Task ids it logged, and those of the rep's synced reminders, are reported
for the admin to handle in Salesforce.

A message whose raw bytes retention already purged is found only by what its row still
holds (envelope, Subject, reasons); its Tasks are in Salesforce on the person's record.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from relay.logs import get_logger
from relay.parsing import Email, parse
from relay.parsing.addresses import normalise_email
from relay.parsing.headers import normalise_message_id
from relay.parsing.model import Address
from relay.store.console_reads import AuditEntry
from relay.store.erasure import Erased, RepData
from relay.store.model import Delivery, Reminder, StoredMessage, UnresolvedItem
from relay.store.sql_store import SqlStore

ERASED = "(address erased)"
"""What an erased address becomes in a reminder that another rep keeps."""


def address_hash(address: str) -> str:
    """A stable pseudonym for an address in logs: the log line of an erasure must not
    record the address it erased. SHA-256 of the normalised address, 16 hex digits."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


def normalised(address: str) -> str | None:
    """The comparison form of an address (lower-case, Unicode domain), or None."""
    return normalise_email(address)


@dataclass(frozen=True)
class AddressPattern:
    """Finds one address as a whole word in text or bytes, case-insensitively."""

    address: str
    _text: re.Pattern[str] = field(init=False, repr=False)
    _bytes: tuple[re.Pattern[bytes], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Not inside a longer address: no address character before it ("jimbob@"), and
        # no more domain after it ("acme.com.au"); a sentence's full stop may follow.
        before, after = r"(?<![A-Za-z0-9._%+\-])", r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
        forms = {self.address}
        local, _, domain = self.address.rpartition("@")
        with contextlib.suppress(UnicodeError):
            forms.add(f"{local}@{domain.encode('idna').decode('ascii')}")  # the xn-- form
        text = re.compile(before + re.escape(self.address) + after, re.IGNORECASE)
        binary = tuple(
            re.compile(
                before.encode() + re.escape(form.encode("utf-8")) + after.encode(), re.IGNORECASE
            )
            for form in sorted(forms)
        )
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_bytes", binary)

    def in_text(self, text: str | None) -> bool:
        return bool(text) and self._text.search(text or "") is not None

    def in_bytes(self, raw: bytes) -> bool:
        return any(pattern.search(raw) for pattern in self._bytes)

    def redacted(self, text: str) -> str:
        return self._text.sub(ERASED, text)


def parsed_addresses(email: Email) -> set[str]:
    """Every address the parser found in one email, as the matcher compares them."""
    found: list[Address | None] = [email.from_, email.sender]
    found.extend(email.to + email.cc + email.bcc + email.reply_to)
    if email.forwarded is not None:
        found.append(email.forwarded.from_)
        found.extend(email.forwarded.to + email.forwarded.cc)
    if email.journal is not None:
        found.append(email.journal.sender)
        found.extend(email.journal.recipients)
    return {address.email for address in found if address is not None}


def names_address(pattern: AddressPattern, message: StoredMessage, raw: bytes | None) -> bool:
    """Whether this message (its row, and its raw bytes when still stored) names the
    address. Pure: no I/O."""
    envelope = message.envelope
    if normalised(envelope.mail_from) == pattern.address:
        return True
    if any(normalised(rcpt) == pattern.address for rcpt in envelope.rcpt_tos):
        return True
    if any(pattern.in_text(text) for text in (message.subject, message.message_id, message.reason)):
        return True
    if raw is None:
        return False
    if pattern.in_bytes(raw):
        return True
    return pattern.address in parsed_addresses(parse(raw, envelope, message.received_at))


@dataclass(frozen=True)
class ErasurePlan:
    """What `relay forget` found for one address (and removes, unless a dry run)."""

    address: str
    messages: dict[str, str]  # queue id -> state
    unresolved_items: tuple[UnresolvedItem, ...]
    aliases: tuple[str, ...]
    deliveries: tuple[Delivery, ...]  # kept: exactly-once needs them
    reps: tuple[str, ...] = ()  # User ids whose email or username is the address
    reminders: tuple[Reminder, ...] = ()  # theirs, deleted ones too
    sync_reps: tuple[str, ...] = ()  # their task_sync_reps rows
    audit_rows: tuple[str, ...] = ()  # console_audit ids
    redacted_reminders: tuple[Reminder, ...] = ()  # other reps' that name the address

    @property
    def empty(self) -> bool:
        return not (
            self.messages or self.unresolved_items or self.aliases or self.reminders
            or self.sync_reps or self.audit_rows or self.redacted_reminders
        )  # fmt: skip

    def reminder_tasks(self) -> list[dict[str, str]]:
        """The Salesforce Tasks the Task sync paired with the rep's reminders (kept in
        Salesforce: Relay does not delete CRM data)."""
        return [
            {"task_id": r.sf_task_id, "reminder_id": r.id}
            for r in sorted(self.reminders, key=lambda r: str(r.sf_task_id))
            if r.sf_task_id
        ]

    def tasks(self) -> list[dict[str, object]]:
        """The Salesforce Tasks Relay logged for these emails, one entry per Task id."""
        tasks: dict[str, dict[str, object]] = {}
        for delivery in self.deliveries:
            if delivery.task_id:
                entry = tasks.setdefault(
                    delivery.task_id,
                    {"task_id": delivery.task_id, "records": [], "queue_id": delivery.queue_id},
                )
                records = entry["records"]
                assert isinstance(records, list)
                records.extend(r for r in delivery.records if r not in records)
        for item in self.unresolved_items:
            if item.task_id and item.task_id not in tasks:
                records = [item.assigned_record] if item.assigned_record else []
                tasks[item.task_id] = {
                    "task_id": item.task_id,
                    "records": records,
                    "queue_id": item.queue_id,
                }
        return sorted(tasks.values(), key=lambda task: str(task["task_id"]))

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.messages.values():
            counts[state] = counts.get(state, 0) + 1
        return dict(sorted(counts.items()))


def message_key(message: StoredMessage, raw: bytes | None) -> str | None:
    """The ledger's key of this email (relay/matching: its Message-ID, or a hash)."""
    if raw is not None:
        return parse(raw, message.envelope, message.received_at).message_key
    return normalise_message_id(message.message_id) if message.message_id else None


def plan_erasure(store: SqlStore, address: str) -> ErasurePlan:
    """Find everything Relay stores that names ``address`` (a normalised address)."""
    pattern = AddressPattern(address)
    found: dict[str, str] = {}
    message_ids: set[str] = set()
    keys: set[str] = set()

    def add(message: StoredMessage, raw: bytes | None) -> None:
        found[message.id] = message.state.value
        if message.message_id:
            message_ids.add(message.message_id)
        key = message_key(message, raw)
        if key:
            keys.add(key)

    for message, raw in store.scan_messages():
        if names_address(pattern, message, raw):
            add(message, raw)
    for queue_id, reason in store.reasons_containing(address):
        if pattern.in_text(reason) and queue_id not in found:
            quoted = store.get(queue_id)
            if quoted is not None:
                add(quoted, None)
    # Other copies of the same emails are the same personal data, even when their raw
    # bytes (the only place naming the address) were already purged.
    found.update(store.messages_with_message_ids(message_ids))
    items = {item.id: item for item in store.unresolved_of(found)}
    for item in store.unresolved_containing(address):
        if normalised(item.mail_from or "") == address or pattern.in_text(item.subject):
            items[item.id] = item
    aliases = tuple(
        alias.alias for alias in store.list_senders() if normalised(alias.alias) == address
    )
    queue_ids = set(found) | {item.queue_id for item in items.values()}
    reps = tuple(
        sorted(
            rep.user_id
            for rep in store.list_reps()
            if address in (normalised(rep.email or ""), normalised(rep.username or ""))
        )
    )
    owned = tuple(store.reminders_of(reps)) if reps else ()
    about = set(reps) | {reminder.id for reminder in owned}
    # A rep's username (an address too) names them as well as their email does.
    names = [pattern] + [
        AddressPattern(username)
        for rep in store.list_reps()
        if rep.user_id in about and (username := normalised(rep.username or ""))
        and username != address
    ]  # fmt: skip
    audit_rows = tuple(
        entry.id for entry in store.scan_audit() if _audit_names(entry, about, names)
    )
    synced = store.task_sync_reps()
    owned_ids = {reminder.id for reminder in owned}
    redacted = tuple(
        reminder
        for reminder in store.reminders_containing(address)
        if reminder.id not in owned_ids
        and (pattern.in_text(reminder.subject) or pattern.in_text(reminder.details))
    )
    return ErasurePlan(
        address=address,
        messages=dict(sorted(found.items())),
        unresolved_items=tuple(sorted(items.values(), key=lambda item: item.id)),
        aliases=aliases,
        deliveries=_unique(
            store.deliveries_for_queue_ids(queue_ids) + store.deliveries_for_messages(keys)
        ),
        reps=reps,
        reminders=owned,
        sync_reps=tuple(user_id for user_id in reps if user_id in synced),
        audit_rows=audit_rows,
        redacted_reminders=redacted,
    )


def _audit_names(entry: AuditEntry, about: set[str], patterns: Sequence[AddressPattern]) -> bool:
    """An audit row the erasure removes: made by the rep, about the rep or one of their
    reminders, or naming the address or the rep's username (an acceptable address added,
    an admin's change for the rep)."""
    if entry.user_id in about or (entry.target or "") in about:
        return True
    texts = [entry.username, entry.target, *(str(v) for v in entry.detail.values())]
    return any(pattern.in_text(text) for pattern in patterns for text in texts)


def forget(store: SqlStore, plan: ErasurePlan) -> Erased:
    """Remove what ``plan`` found, in one transaction, and log one event that names the
    address only by its hash (``address_forgotten``)."""
    pattern = AddressPattern(plan.address)
    rep_data = RepData(
        reminders=[reminder.id for reminder in plan.reminders],
        sync_reps=plan.sync_reps,
        audit_rows=plan.audit_rows,
        redactions={
            reminder.id: (
                pattern.redacted(reminder.subject),
                pattern.redacted(reminder.details) if reminder.details else reminder.details,
            )
            for reminder in plan.redacted_reminders
        },
    )
    erased = store.erase(
        plan.messages, [item.id for item in plan.unresolved_items], plan.aliases, rep_data
    )
    get_logger("relay.erasure").info(
        "address_forgotten",
        address_hash=address_hash(plan.address),
        messages=erased.messages,
        unresolved_items=erased.unresolved_items,
        senders=erased.senders,
        reminders=erased.reminders,
        sync_reps=erased.sync_reps,
        audit_rows=erased.audit_rows,
        reminders_redacted=erased.reminders_redacted,
        busy=len(erased.busy),
        tasks=len(plan.tasks()),
        ledger_rows_kept=len(plan.deliveries),
    )
    return erased


def _unique(rows: list[Delivery]) -> tuple[Delivery, ...]:
    return tuple({row.relay_key: row for row in rows}.values())
