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
sender aliases. What is kept: the delivery ledger rows of those messages (relay keys,
Message-IDs or their hash, Salesforce record and Task ids; no address), so a late copy
of an erased email is still recognised and never logged twice. Relay does not delete
CRM data: the Task ids it logged are reported for the admin to handle in Salesforce.

A message whose raw bytes retention already purged is found only by what its row still
holds (envelope, Subject, reasons); its Tasks are in Salesforce on the person's record.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field

from relay.logs import get_logger
from relay.parsing import Email, parse
from relay.parsing.addresses import normalise_email
from relay.parsing.headers import normalise_message_id
from relay.parsing.model import Address
from relay.store.erasure import Erased
from relay.store.model import Delivery, StoredMessage, UnresolvedItem
from relay.store.sql_store import SqlStore


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

    @property
    def empty(self) -> bool:
        return not (self.messages or self.unresolved_items or self.aliases)

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
    return ErasurePlan(
        address=address,
        messages=dict(sorted(found.items())),
        unresolved_items=tuple(sorted(items.values(), key=lambda item: item.id)),
        aliases=aliases,
        deliveries=_unique(
            store.deliveries_for_queue_ids(queue_ids) + store.deliveries_for_messages(keys)
        ),
    )


def forget(store: SqlStore, plan: ErasurePlan) -> Erased:
    """Remove what ``plan`` found, in one transaction, and log one event that names the
    address only by its hash (``address_forgotten``)."""
    erased = store.erase(plan.messages, [item.id for item in plan.unresolved_items], plan.aliases)
    get_logger("relay.erasure").info(
        "address_forgotten",
        address_hash=address_hash(plan.address),
        messages=erased.messages,
        unresolved_items=erased.unresolved_items,
        senders=erased.senders,
        busy=len(erased.busy),
        tasks=len(plan.tasks()),
        ledger_rows_kept=len(plan.deliveries),
    )
    return erased


def _unique(rows: list[Delivery]) -> tuple[Delivery, ...]:
    return tuple({row.relay_key: row for row in rows}.values())
