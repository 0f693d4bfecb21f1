"""Who sent it: reps, their acceptable addresses, and personal addresses.

A rep is an active Salesforce User. Their *acceptable addresses* are the User's Email plus
the aliases registered in Relay, as in Email-to-Salesforce's "My Acceptable Email
Addresses". ``sync_reps`` copies the active Users into the store with one query, and
``SenderDirectory`` is the in-memory snapshot the SMTP edge and the runners consult
without calling Salesforce.

Personal addresses are ``log+<token>@DOMAIN``. The token is a keyed hash of the User id
(HMAC-SHA256 with a secret in RELAY_HOME/address.key, RFC 2104), so it cannot be guessed
without the secret and needs no table; rotating the secret changes every address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from relay.reps.reminders import split_tag
from relay.store.model import Rep, SenderAlias, Store

MAILBOX = "log"
TOKEN_LENGTH = 12
"""Base32 characters: 60 bits. An online guess costs an SMTP transaction."""

ADDRESS_KEY_FILE = "address.key"

USER_FIELDS = ("Id", "Username", "Email", "Name", "IsActive", "TimeZoneSidKey")
"""``TimeZoneSidKey``: the rep's time zone, in which reminder due dates are counted."""
# UserType 'Standard' leaves out portal, guest and automated users, who never send sales
# email (Object Reference, User: UserType).
ACTIVE_USERS_SOQL = (
    f"SELECT {', '.join(USER_FIELDS)} FROM User "  # noqa: S608 - constant, no values
    "WHERE IsActive = true AND UserType = 'Standard' ORDER BY Username"
)


class QueryClient(Protocol):
    """The part of ``relay.salesforce.client.SalesforceClient`` this module uses."""

    def query_all(self, soql: str) -> list[dict[str, Any]]: ...


# --- personal addresses ------------------------------------------------------------------


def load_address_secret(home: Path) -> bytes:
    """The personal-address secret, created (0600) on first use in RELAY_HOME.

    Written whole to a new private file (``mkstemp``: 0600 and O_EXCL whatever the umask),
    then given its name with ``link``, which fails if the name exists: when two processes
    start together, one secret wins and both use it, and no reader ever sees a file that
    is empty or half written.
    """
    path = home / ADDRESS_KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{ADDRESS_KEY_FILE}.", dir=home)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secret.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    finally:
        os.unlink(temporary)
    return secret


def address_token(user_id: str, secret: bytes) -> str:
    """The rep's token: HMAC-SHA256(secret, User id), base32, lower-case, 12 characters."""
    digest = hmac.new(secret, user_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:TOKEN_LENGTH]


def personal_address(user_id: str, secret: bytes, domain: str) -> str:
    return f"{MAILBOX}+{address_token(user_id, secret)}@{domain}"


def shared_address(domain: str) -> str:
    return f"{MAILBOX}@{domain}"


def address_tag(address: str) -> str | None:
    """The ``+tag`` of ``log+tag@domain`` (None for the shared ``log@``), without a
    reminder part (relay/reps/reminders.py): ``log+TOKEN+remind-3d@`` has the tag
    ``TOKEN``, and ``log+remind-3d@`` is the shared address (None), so every rule of the
    personal and the shared address applies to their reminder forms too."""
    local = address.rpartition("@")[0]
    _, plus, tag = local.partition("+")
    return split_tag(tag)[0] if plus else None


# --- the directory -----------------------------------------------------------------------


@dataclass(frozen=True)
class SenderDirectory:
    """Reps by acceptable address and by token: an immutable snapshot.

    ``synced`` is False until the reps were synced from Salesforce at least once; the
    SMTP edge then fails open (relay/smtp/senders.py says why).
    """

    reps: tuple[Rep, ...] = ()
    aliases: tuple[SenderAlias, ...] = ()
    synced: bool = False
    secret: bytes = field(default=b"", repr=False)
    _by_address: Mapping[str, Rep] = field(default_factory=dict, repr=False)
    _by_id: Mapping[str, Rep] = field(default_factory=dict, repr=False)
    _by_token: Mapping[str, Rep] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        reps: Sequence[Rep],
        aliases: Sequence[SenderAlias] = (),
        *,
        secret: bytes = b"",
        synced: bool = True,
    ) -> SenderDirectory:
        active = [rep for rep in reps if rep.is_active]
        by_id = {rep.user_id: rep for rep in active}
        by_address: dict[str, Rep] = {}
        for rep in active:
            # Two Users with one Email (common in sandboxes): the first by Username wins.
            by_address.setdefault(rep.email.lower(), rep)
        for alias in aliases:
            # An alias is the admin's explicit word, so it wins over a User's Email. An
            # alias of a User no longer active is ignored, not an error.
            if alias.user_id in by_id:
                by_address[alias.alias.lower()] = by_id[alias.user_id]
        # Every token once per snapshot, not once per rep per RCPT: the edge looks a token
        # up for every personal-address message (docs/benchmarks.md, "Sender checks at the
        # edge"). A dict lookup first compares the string's hash, keyed per process
        # (SipHash, PEP 456), so its timing tells a guesser nothing about a near miss.
        by_token = {address_token(rep.user_id, secret): rep for rep in active} if secret else {}
        return cls(tuple(active), tuple(aliases), synced, secret, by_address, by_id, by_token)

    @classmethod
    def from_store(cls, store: Store, secret: bytes) -> SenderDirectory:
        """The snapshot as last synced into the store (one read per table)."""
        synced = store.reps_synced_at() is not None
        return cls.build(store.list_reps(), store.list_senders(), secret=secret, synced=synced)

    def rep_for(self, address: str) -> Rep | None:
        """The rep whose acceptable address this is (case-insensitive)."""
        return self._by_address.get(address.strip().lower())

    def rep_by_id(self, user_id: str) -> Rep | None:
        return self._by_id.get(user_id)

    def rep_for_token(self, token: str) -> Rep | None:
        return self._by_token.get(token.strip().lower())

    def acceptable_addresses(self, user_id: str) -> tuple[str, ...]:
        """The User's Email first, then their aliases."""
        rep = self._by_id.get(user_id)
        if rep is None:
            return ()
        aliases = sorted(a.alias for a in self.aliases if a.user_id == user_id)
        return (rep.email, *[a for a in aliases if a != rep.email])


# --- sync from Salesforce ----------------------------------------------------------------


def rep_from_record(record: Mapping[str, object]) -> Rep:
    return Rep(
        user_id=str(record["Id"]),
        username=str(record["Username"]),
        email=str(record.get("Email") or "").lower(),
        name=None if record.get("Name") is None else str(record["Name"]),
        is_active=bool(record.get("IsActive", True)),
        time_zone=None if record.get("TimeZoneSidKey") is None else str(record["TimeZoneSidKey"]),
    )


def sync_reps(client: QueryClient, store: Store, now: datetime | None = None) -> list[Rep]:
    """Replace the store's rep snapshot with the org's active Users (one query).

    Raises what the client raises (TemporaryError, NeedsAttention ...); the snapshot is
    then left as it was.
    """
    reps = [rep_from_record(record) for record in client.query_all(ACTIVE_USERS_SOQL)]
    store.replace_reps(reps, now or datetime.now(UTC))
    return reps
