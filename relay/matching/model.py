"""The values matching works on: a Directory snapshot, a MatchPolicy, and the MatchPlan.

All frozen, all plain data. The directory is built by ``relay.salesforce.directory`` (one
batched lookup per batch of messages) or by hand in tests; matching never does I/O.

The E2S behaviour these defaults copy comes from Salesforce Help: "How Does Email to
Salesforce Work?", "Considerations for Using Email to Salesforce" and "Guidelines for Using
Email to Salesforce" (the ``My Email to Salesforce`` settings page offers the same three
choices for multiple matches and the "send it to My Unresolved Items" box).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from relay.config import Config

MultipleMatches = Literal["all", "oldest", "most_activity"]
OpportunityPolicy = Literal["all_open", "most_recent_open", "none"]
UnmatchedPolicy = Literal["unresolved_task", "hold", "drop"]
Outcome = Literal["matched", "unresolved", "hold", "drop", "machine"]

E2S_MAX_ADDRESSES = 50
"""'Considerations for Using Email to Salesforce', Limits: only the first 50 unique
addresses of To and CC are processed."""

# Key prefixes of the standard objects Relay reads or relates Tasks to (Salesforce
# "Standard Field Record ID Prefix Decoder"). Used to type ``ref:`` ids and thread records.
KEY_PREFIXES: Mapping[str, str] = {
    "001": "Account",
    "003": "Contact",
    "005": "User",
    "006": "Opportunity",
    "00Q": "Lead",
    "500": "Case",
    "701": "Campaign",
    "800": "Contract",
    "02i": "Asset",
    "01t": "Product2",
    "501": "Solution",
}

_ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18(record_id: str) -> str:
    """The case-insensitive 18-character form of a 15- or 18-character Salesforce id.

    The 3-character suffix encodes, for each 5-character block, which letters are upper
    case (the documented checksum behind CASESAFEID()). 18-character ids pass unchanged.
    """
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for block in range(3):
        chunk = record_id[block * 5 : block * 5 + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _ID_SUFFIX_ALPHABET[bits]
    return record_id + suffix


def object_for_id(record_id: str) -> str | None:
    """The sObject a record id belongs to, from its key prefix, or None if unknown."""
    return KEY_PREFIXES.get(record_id[:3])


# --- the directory ------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A Contact or a Lead, as the directory lookup read it.

    ``email`` is the standard Email field, lower-cased. ``other_emails`` holds
    (field name, lower-cased value) pairs of extra email fields, read only when a policy
    asks for them (E2S itself matches the standard field only).
    """

    id: str
    type: Literal["Contact", "Lead"]
    email: str
    created_date: datetime
    account_id: str | None = None
    last_activity_date: date | None = None
    owner_id: str | None = None
    is_converted: bool = False
    converted_contact_id: str | None = None
    other_emails: tuple[tuple[str, str], ...] = ()

    def fields_matching(self, address: str) -> tuple[str, ...]:
        """The names of this record's email fields whose value is ``address``."""
        found = ("Email",) if self.email == address else ()
        return found + tuple(name for name, value in self.other_emails if value == address)


@dataclass(frozen=True)
class Opportunity:
    id: str
    name: str
    is_closed: bool
    created_date: datetime
    last_modified_date: datetime
    close_date: date | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class RecordRef:
    """A record known only by id and type (thread records, ``ref:`` records)."""

    id: str
    type: str


@dataclass(frozen=True)
class User:
    """A rep: an active Salesforce User, with the addresses accepted as theirs (the
    User's Email plus aliases, E2S's "My Acceptable Email Addresses")."""

    id: str
    email: str
    acceptable_addresses: tuple[str, ...] = ()

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in (self.email, *self.acceptable_addresses))


@dataclass(frozen=True)
class Directory:
    """A snapshot of the Salesforce records for one batch's addresses.

    ``people_by_email`` maps a lower-cased address to every Contact and Lead whose Email
    (or a requested extra email field) holds it, converted Leads included: matching
    decides, and says why it drops them. An address looked up with no record maps to
    ``()`` or is absent; both mean "no record".
    """

    people_by_email: Mapping[str, tuple[Person, ...]] = field(default_factory=dict)
    opportunities_by_contact: Mapping[str, tuple[Opportunity, ...]] = field(default_factory=dict)
    """Contact id -> every Opportunity where it has an OpportunityContactRole."""
    known_threads: Mapping[str, tuple[RecordRef, ...]] = field(default_factory=dict)
    """Message key (normalised Message-ID) -> the records that email was logged to."""
    records_by_id: Mapping[str, RecordRef] = field(default_factory=dict)
    """18-character id -> record, for ``ref:`` ids checked to exist."""
    users_by_email: Mapping[str, User] = field(default_factory=dict)
    """Lower-cased acceptable address -> the rep it belongs to."""

    @classmethod
    def build(
        cls,
        people: Iterable[Person] = (),
        roles: Iterable[tuple[str, Opportunity]] = (),
        known_threads: Mapping[str, Iterable[RecordRef]] | None = None,
        records: Iterable[RecordRef] = (),
        users: Iterable[User] = (),
    ) -> Directory:
        """Index plain records: ``roles`` are (contact id, opportunity) pairs, one per
        OpportunityContactRole. Contacts, Leads and Opportunities are also indexed by id."""
        people = tuple(people)
        by_email: dict[str, list[Person]] = {}
        for person in people:
            for address in {person.email, *(value for _, value in person.other_emails)}:
                if address:
                    by_email.setdefault(address.lower(), []).append(person)
        by_contact: dict[str, dict[str, Opportunity]] = {}
        opportunities: list[Opportunity] = []
        for contact_id, opportunity in roles:
            by_contact.setdefault(contact_id, {})[opportunity.id] = opportunity
            opportunities.append(opportunity)
        by_id: dict[str, RecordRef] = {}
        for ref in records:
            by_id[to_18(ref.id)] = ref
        for person in people:
            by_id[to_18(person.id)] = RecordRef(person.id, person.type)
        for opportunity in opportunities:
            by_id[to_18(opportunity.id)] = RecordRef(opportunity.id, "Opportunity")
        users_by_email = {address: user for user in users for address in user.addresses}
        return cls(
            people_by_email={k: tuple(v) for k, v in by_email.items()},
            opportunities_by_contact={
                k: tuple(sorted(v.values(), key=lambda o: o.id)) for k, v in by_contact.items()
            },
            known_threads={k: tuple(v) for k, v in (known_threads or {}).items()},
            records_by_id=by_id,
            users_by_email=users_by_email,
        )

    def user_for(self, address: str | None) -> User | None:
        return self.users_by_email.get(address.lower()) if address else None


# --- the policy ---------------------------------------------------------------------


def _no_relay_address(address: str) -> bool:
    return False


def relay_domain_predicate(*domains: str) -> Callable[[str], bool]:
    """Every address at one of Relay's domains is Relay's own (``log@``, ``log+token@``)."""
    lowered = tuple(d.lower() for d in domains)

    def is_relay_address(address: str) -> bool:
        return address.lower().rpartition("@")[2] in lowered

    return is_relay_address


@dataclass(frozen=True)
class MatchPolicy:
    """How to match; every default is Email to Salesforce's own behaviour."""

    multiple_matches: MultipleMatches = "all"
    opportunities: OpportunityPolicy = "all_open"
    unmatched: UnmatchedPolicy = "unresolved_task"
    internal_domains: tuple[str, ...] = ()
    """Company domains (and their subdomains): never customers (RELAY_INTERNAL_DOMAINS)."""
    excluded_addresses: frozenset[str] = frozenset()
    excluded_domains: tuple[str, ...] = ()
    extra_email_fields: tuple[str, ...] = ()
    """Custom email fields to match as well. Beyond E2S, which "doesn't support matching
    on custom email fields" (Considerations for Using Email to Salesforce)."""
    max_candidates: int = E2S_MAX_ADDRESSES
    is_relay_address: Callable[[str], bool] = _no_relay_address

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> MatchPolicy:
        """E2S defaults plus the configured internal domains and Relay's own domain;
        ``overrides`` are per-org or per-rep sync settings (relay/reps/settings.py)."""
        values: dict[str, Any] = {
            "internal_domains": config.internal_domains,
            "is_relay_address": relay_domain_predicate(config.domain),
        }
        values.update(overrides)
        return cls(**values)


# --- the plan -----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Reason:
    """Why a record was chosen: the rule, and the address (or message id) behind it."""

    rule: str
    """``address``, ``opportunity_role``, ``thread`` or ``ref``."""
    source: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.rule}: {self.source}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class MatchedRecord:
    id: str
    type: str
    reason: Reason
    account_id: str | None = None
    contact_ids: tuple[str, ...] = ()
    """For an Opportunity: the matched Contacts whose contact role brought it in."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "reason": str(self.reason)}


@dataclass(frozen=True)
class Dropped:
    """A candidate address or record left out, and why."""

    subject: str
    reason: str

    def __str__(self) -> str:
        return f"dropped {self.subject}: {self.reason}"


@dataclass(frozen=True)
class Ambiguous:
    """One address matched several records and the policy chose among them."""

    address: str
    candidates: tuple[str, ...]
    chosen: tuple[str, ...]
    policy: MultipleMatches


@dataclass(frozen=True)
class MatchPlan:
    records: tuple[MatchedRecord, ...]
    outcome: Outcome
    dropped: tuple[Dropped, ...] = ()
    ambiguities: tuple[Ambiguous, ...] = ()
    trace: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    """The addresses that were looked up, in E2S order, after every drop rule."""
    rep: User | None = None
    inbound: bool = False
    """The rep was found among the recipients, not the senders: a copy of mail the rep
    received (relay/matching/match.py, rule 2)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "inbound": self.inbound,
            "records": [r.to_dict() for r in self.records],
            "candidates": list(self.candidates),
            "dropped": [{"subject": d.subject, "reason": d.reason} for d in self.dropped],
            "trace": list(self.trace),
        }
