"""Build a matching ``Directory`` from Salesforce with as few API calls as possible.

One batch of messages needs one lookup: the Contact, Lead, OpportunityContactRole, User
and ``ref:`` id queries travel together in one ``composite`` request (REST API Developer
Guide, "Composite": up to 25 subrequests, of which up to 5 may be queries). ``IN`` lists
are chunked so each query URI stays under 16,384 bytes (the REST API's URI limit, "Limits"
in the same guide); more than five queries take several composite calls. Every value is
escaped with simple-salesforce's ``format_soql`` (addresses like ``o'brien@...`` are
valid). Email comparisons in SOQL are case-insensitive, so lower-cased values find mixed
case data.

``DirectoryCache`` remembers each address's records, negative results included, for a
short time, so a burst of mail to the same customers costs one lookup.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from relay.errors import NeedsAttention
from relay.matching.model import (
    Directory,
    Opportunity,
    Person,
    RecordRef,
    User,
    object_for_id,
    to_18,
)
from relay.salesforce.classify import classify_response
from relay.salesforce.client import SalesforceClient

Connection = Salesforce | SalesforceClient
"""A bare simple-salesforce object, or Relay's client (retries, re-authentication)."""

MAX_URI_BYTES = 16_384
MAX_QUERIES_PER_COMPOSITE = 5
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

CONTACT_FIELDS = "Id, Email, AccountId, CreatedDate, LastActivityDate, OwnerId"
LEAD_FIELDS = "Id, Email, CreatedDate, LastActivityDate, OwnerId, IsConverted, ConvertedContactId"
ROLE_FIELDS = (
    "ContactId, Contact.Email, OpportunityId, Opportunity.Name, Opportunity.IsClosed, "
    "Opportunity.CloseDate, Opportunity.CreatedDate, Opportunity.LastModifiedDate, "
    "Opportunity.AccountId"
)


@dataclass(frozen=True)
class _Query:
    """One SOQL query and what its rows answer: which ``kind`` and which keys it covers."""

    kind: str
    soql: str


@dataclass
class Lookup:
    """Raw answers per key. Every requested key is present; an empty or None value is a
    negative result (worth caching too)."""

    people: dict[str, list[Person]] = field(default_factory=dict)
    roles: dict[str, list[tuple[str, Opportunity]]] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)
    records: dict[str, RecordRef | None] = field(default_factory=dict)

    def directory(self, known_threads: Mapping[str, Iterable[RecordRef]] | None) -> Directory:
        people = {p.id: p for group in self.people.values() for p in group}
        roles = {(c, o.id): (c, o) for group in self.roles.values() for c, o in group}
        return Directory.build(
            people=sorted(people.values(), key=lambda p: p.id),
            roles=sorted(roles.values(), key=lambda r: (r[0], r[1].id)),
            known_threads=known_threads,
            records=[r for r in self.records.values() if r is not None],
            users=sorted({u.id: u for u in self.users.values() if u}.values(), key=lambda u: u.id),
        )


def fetch_directory(
    sf: Connection,
    addresses: Iterable[str],
    *,
    record_ids: Iterable[str] = (),
    sender_addresses: Iterable[str] = (),
    extra_email_fields: Sequence[str] = (),
    known_threads: Mapping[str, Iterable[RecordRef]] | None = None,
    api_version: str | None = None,
) -> Directory:
    """The Directory for ``addresses`` (candidate customers), ``record_ids`` (``ref:``
    ids) and ``sender_addresses`` (looked up as active Users: the reps).

    ``known_threads`` comes from Relay's own store and is passed through.
    Raises a ``RelayError`` (via relay.salesforce.classify) when a query fails.
    """
    lookup = lookup_records(
        sf,
        addresses,
        record_ids=record_ids,
        sender_addresses=sender_addresses,
        extra_email_fields=extra_email_fields,
        api_version=api_version,
    )
    return lookup.directory(known_threads)


def lookup_records(
    sf: Connection,
    addresses: Iterable[str],
    *,
    record_ids: Iterable[str] = (),
    sender_addresses: Iterable[str] = (),
    extra_email_fields: Sequence[str] = (),
    api_version: str | None = None,
) -> Lookup:
    """Query everything in as few composite calls as the limits allow; see the module."""
    if api_version is None:
        api_version = sf.api_version if isinstance(sf, SalesforceClient) else str(sf.sf_version)
    version = api_version
    emails = sorted({a.strip().lower() for a in addresses if a.strip()})
    senders = sorted({a.strip().lower() for a in sender_addresses if a.strip()})
    ids = sorted({to_18(i) for i in record_ids if i})
    for name in extra_email_fields:
        if not _FIELD_NAME.match(name):
            raise NeedsAttention(f"extra email field {name!r} is not a Salesforce field name")

    lookup = Lookup(
        people={a: [] for a in emails},
        roles={a: [] for a in emails},
        users=dict.fromkeys(senders),
        records=dict.fromkeys(ids),
    )
    queries = list(_queries(emails, senders, ids, extra_email_fields, version))
    for start in range(0, len(queries), MAX_QUERIES_PER_COMPOSITE):
        batch = queries[start : start + MAX_QUERIES_PER_COMPOSITE]
        for query, rows in zip(batch, _run_composite(sf, batch, version), strict=True):
            _absorb(lookup, query.kind, rows, extra_email_fields)
    return lookup


# --- building queries ---------------------------------------------------------------


def _query_uri(soql: str, version: str) -> str:
    return f"/services/data/v{version}/query?{urlencode({'q': soql})}"


def _chunked(kind: str, template: str, values: Sequence[str], version: str) -> Iterator[_Query]:
    """Queries of ``template`` (each of its ``{0}`` or ``{}`` slots takes the same IN
    list) over as many ``values`` as keep the URI under MAX_URI_BYTES.

    A value costs its escaped, URL-encoded length plus an encoded comma (``%2C``), once
    per slot; the sum is exact up to the base query, which is measured once."""
    slots = max(1, template.count("{0}") + template.count("{}"))
    base = len(
        _query_uri(format_soql(template, *([[]] * (1 if "{0}" in template else slots))), version)
    )
    chunk: list[str] = []
    size = base
    for value in values:
        cost = slots * (len(quote_plus(format_soql("{}", value))) + len("%2C"))
        if chunk and size + cost >= MAX_URI_BYTES:
            yield _Query(kind, _format(template, chunk, slots))
            chunk, size = [], base
        chunk.append(value)
        size += cost
    if chunk:
        yield _Query(kind, _format(template, chunk, slots))


def _format(template: str, values: list[str], slots: int) -> str:
    return format_soql(template, *([values] * (1 if "{0}" in template else slots)))


def _queries(
    emails: Sequence[str],
    senders: Sequence[str],
    ids: Sequence[str],
    extra_fields: Sequence[str],
    version: str,
) -> Iterator[_Query]:
    # Only constants and names checked against _FIELD_NAME are spliced into the
    # templates (hence the S608 waivers); every value goes through format_soql.
    contact_select = ", ".join([CONTACT_FIELDS, *extra_fields])
    # Extra fields are field names checked against _FIELD_NAME, so they may be spliced.
    where = " OR ".join(["Email IN {0}", *(f"{name} IN {{0}}" for name in extra_fields)])
    yield from _chunked(
        "Contact",
        f"SELECT {contact_select} FROM Contact WHERE {where}",  # noqa: S608
        emails,
        version,
    )
    lead_select = ", ".join([LEAD_FIELDS, *extra_fields])
    lead_soql = f"SELECT {lead_select} FROM Lead WHERE {where}"  # noqa: S608
    yield from _chunked("Lead", lead_soql, emails, version)
    yield from _chunked(
        "OpportunityContactRole",
        f"SELECT {ROLE_FIELDS} FROM OpportunityContactRole WHERE Contact.Email IN {{}}",  # noqa: S608
        emails,
        version,
    )
    yield from _chunked(
        "User",
        "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {}",
        senders,
        version,
    )
    by_type: dict[str, list[str]] = {}
    for record_id in ids:
        sobject = object_for_id(record_id)
        if sobject is not None:
            by_type.setdefault(sobject, []).append(record_id)
    for sobject in sorted(by_type):
        # sobject comes from our own key-prefix table, never from input.
        yield from _chunked(
            "Record",
            f"SELECT Id FROM {sobject} WHERE Id IN {{}}",  # noqa: S608
            by_type[sobject],
            version,
        )


# --- running them -------------------------------------------------------------------


def _post_composite(sf: Connection, subrequests: list[dict[str, str]]) -> list[dict[str, Any]]:
    if isinstance(sf, SalesforceClient):
        return sf.composite(subrequests)
    body = {"allOrNone": False, "compositeRequest": subrequests}
    answer = sf.restful("composite", method="POST", json=body)
    return list((answer or {}).get("compositeResponse", []))


def _run_composite(
    sf: Connection, batch: Sequence[_Query], version: str
) -> list[list[Mapping[str, Any]]]:
    """One composite call; each query's rows, following ``nextRecordsUrl`` pages."""
    subrequests = [
        {"method": "GET", "url": _query_uri(q.soql, version), "referenceId": f"q{i}"}
        for i, q in enumerate(batch)
    ]
    responses = {r["referenceId"]: r for r in _post_composite(sf, subrequests)}
    bare = sf.sf if isinstance(sf, SalesforceClient) else sf
    results: list[list[Mapping[str, Any]]] = []
    for i in range(len(batch)):
        response = responses.get(f"q{i}")
        if response is None:
            raise classify_response(500, "composite answer lacks a subrequest result")
        status = int(response.get("httpStatusCode", 500))
        if status >= 300:
            raise classify_response(status, response.get("body"))
        page = response["body"]
        rows = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            # More than 2,000 rows: rare for one batch's addresses; fetched without retries.
            page = bare.query_more(page["nextRecordsUrl"], identifier_is_url=True)
            rows.extend(page.get("records", []))
        results.append(rows)
    return results


def _datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _lower(value: Any) -> str:
    return str(value).lower() if value else ""


def _absorb(
    lookup: Lookup, kind: str, rows: Sequence[Mapping[str, Any]], extra: Sequence[str]
) -> None:
    for row in rows:
        if kind in ("Contact", "Lead"):
            person = Person(
                id=str(row["Id"]),
                type="Contact" if kind == "Contact" else "Lead",
                email=_lower(row.get("Email")),
                created_date=_datetime(row["CreatedDate"]),
                account_id=row.get("AccountId"),
                last_activity_date=_date(row.get("LastActivityDate")),
                owner_id=row.get("OwnerId"),
                is_converted=bool(row.get("IsConverted", False)),
                converted_contact_id=row.get("ConvertedContactId"),
                other_emails=tuple((f, _lower(row.get(f))) for f in extra if row.get(f)),
            )
            for address in {person.email, *(v for _, v in person.other_emails)}:
                if address in lookup.people:
                    lookup.people[address].append(person)
        elif kind == "OpportunityContactRole":
            opp = row.get("Opportunity") or {}
            address = _lower((row.get("Contact") or {}).get("Email"))
            if address in lookup.roles and opp:
                opportunity = Opportunity(
                    id=str(row["OpportunityId"]),
                    name=str(opp.get("Name") or ""),
                    is_closed=bool(opp.get("IsClosed")),
                    created_date=_datetime(opp["CreatedDate"]),
                    last_modified_date=_datetime(opp["LastModifiedDate"]),
                    close_date=_date(opp.get("CloseDate")),
                    account_id=opp.get("AccountId"),
                )
                lookup.roles[address].append((str(row["ContactId"]), opportunity))
        elif kind == "User":
            user = User(id=str(row["Id"]), email=_lower(row.get("Email")))
            if user.email in lookup.users:
                lookup.users[user.email] = user
        else:
            record_id = to_18(str(row["Id"]))
            sobject = object_for_id(record_id) or "Unknown"
            lookup.records[record_id] = RecordRef(record_id, sobject)


# --- the cache ----------------------------------------------------------------------


class DirectoryCache:
    """Short-lived memory of lookups, negative results included.

    Keys are addresses (customers and senders) and record ids; a key is looked up again
    once ``ttl_seconds`` have passed. A record created in Salesforce is therefore seen at
    most ``ttl_seconds`` late, which is why the default is short.
    """

    def __init__(
        self,
        ttl_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}

    def fetch(
        self,
        sf: Connection,
        addresses: Iterable[str],
        *,
        record_ids: Iterable[str] = (),
        sender_addresses: Iterable[str] = (),
        extra_email_fields: Sequence[str] = (),
        known_threads: Mapping[str, Iterable[RecordRef]] | None = None,
        api_version: str | None = None,
    ) -> Directory:
        """Like ``fetch_directory``, querying only the keys not fresh in the cache."""
        now = self._clock()
        fields_key = ",".join(extra_email_fields)
        wanted = {
            "address": {a.strip().lower() for a in addresses if a.strip()},
            "sender": {a.strip().lower() for a in sender_addresses if a.strip()},
            "record": {to_18(i) for i in record_ids if i},
        }
        hits = Lookup()
        missing: dict[str, list[str]] = {kind: [] for kind in wanted}
        for kind, keys in wanted.items():
            for key in sorted(keys):
                entry = self._entries.get((kind + fields_key, key))
                if entry is None or entry[0] <= now:
                    missing[kind].append(key)
                else:
                    _put(hits, kind, key, entry[1])
        if any(missing.values()):
            fresh = lookup_records(
                sf,
                missing["address"],
                record_ids=missing["record"],
                sender_addresses=missing["sender"],
                extra_email_fields=extra_email_fields,
                api_version=api_version,
            )
            self._store(fresh, fields_key, now + self.ttl_seconds)
            for (fresh_kind, fresh_key), value in _items(fresh):
                _put(hits, fresh_kind, fresh_key, value)
        return hits.directory(known_threads)

    def invalidate(self, keys: Iterable[str]) -> None:
        """Forget these addresses and record ids (a write said a record changed: it was
        deleted, merged or converted), so the next fetch reads them again."""
        gone = {k.strip().lower() for k in keys} | {to_18(k) for k in keys if k}
        self._entries = {k: v for k, v in self._entries.items() if k[1] not in gone}

    def _store(self, fresh: Lookup, fields_key: str, expires: float) -> None:
        if len(self._entries) > self._max_entries:
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) > self._max_entries:
                self._entries.clear()
        for (kind, key), value in _items(fresh):
            self._entries[(kind + fields_key, key)] = (expires, value)


def _items(lookup: Lookup) -> Iterator[tuple[tuple[str, str], Any]]:
    for address, people in lookup.people.items():
        yield ("address", address), (tuple(people), tuple(lookup.roles.get(address, ())))
    for address, user in lookup.users.items():
        yield ("sender", address), user
    for record_id, record in lookup.records.items():
        yield ("record", record_id), record


def _put(lookup: Lookup, kind: str, key: str, value: Any) -> None:
    if kind == "address":
        people, roles = value
        lookup.people[key] = list(people)
        lookup.roles[key] = list(roles)
    elif kind == "sender":
        lookup.users[key] = value
    else:
        lookup.records[key] = value
