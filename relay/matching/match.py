"""``match(email, directory, policy) -> MatchPlan``: who is this email with, and where
does it belong in Salesforce? Pure: no I/O, same input, same plan.

The rules, in order, are Email to Salesforce's (Salesforce Help: "How Does Email to
Salesforce Work?", "Considerations for Using Email to Salesforce", "Guidelines for Using
Email to Salesforce"):

1. Machine mail (bounces, auto-replies, lists) is never logged as a rep's email.
2. Candidates are the To and CC addresses, never the Bcc header ("If you enter a
   recipient's email address in the BCC field ... the email isn't related to records").
   A forward uses the From, To and CC of the original ("searches the From, To, and CC
   fields in the forwarded email"). An Exchange journal report uses its sender and every
   recipient, Bcc included: Relay's own extension, the only way to see BCC'd customers.
   An inbound copy (no rep sent it, a rep is in its To or Cc: a customer's mail that a
   mail server copied to Relay, e.g. Postfix ``recipient_bcc_maps``) is treated as that
   rep forwarding it: From, To and CC (Relay's own extension; the runners accept such
   copies only from trusted networks, relay/delivery/reps.py).
3. Drop the rep (the sender), Relay's own addresses, internal domains and the excluded
   addresses and domains; keep the first 50 unique ("processes only the first 50 unique
   addresses").
4. Contacts and Leads match on Email, case-insensitively; a Lead only while
   ``IsConverted = false``. Several records for one address: all, the oldest
   (CreatedDate) or the one with the most activity (LastActivityDate, then oldest).
5. Each matched Contact brings every open Opportunity where it has a contact role
   ("saves the email ... on all open opportunities, as long as the contact is assigned a
   contact role").
6. Threads: a reply to an email Relay logged inherits that email's records (Relay's
   own; E2S has no threading).
7. ``ref:`` ids are added once checked to exist ("Salesforce ignores invalid IDs").
8. Nothing matched: an unresolved Task, a hold or a drop, by policy ("If no matching
   records are found, create a task and send it to My Unresolved Items").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from relay.matching.model import (
    Ambiguous,
    Directory,
    Dropped,
    MatchedRecord,
    MatchPlan,
    MatchPolicy,
    Opportunity,
    Outcome,
    Person,
    Reason,
    UnmatchedPolicy,
    User,
    object_for_id,
    to_18,
)
from relay.parsing.headers import normalise_message_id
from relay.parsing.model import Address, Email

_UNMATCHED_OUTCOME: dict[UnmatchedPolicy, Outcome] = {
    "unresolved_task": "unresolved",
    "hold": "hold",
    "drop": "drop",
}
_TYPE_ORDER = {"Contact": 0, "Lead": 1, "Opportunity": 2, "Account": 3}


@dataclass
class _Work:
    """The plan under construction (private, mutable; frozen into a MatchPlan)."""

    records: dict[str, MatchedRecord] = field(default_factory=dict)
    dropped: list[Dropped] = field(default_factory=list)
    ambiguities: list[Ambiguous] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    def drop(self, subject: str, reason: str) -> None:
        item = Dropped(subject, reason)
        self.dropped.append(item)
        self.trace.append(str(item))

    def add(self, record: MatchedRecord) -> None:
        key = to_18(record.id)
        if key in self.records:
            self.trace.append(f"{record.type} {record.id} already chosen; not added twice")
            return
        self.records[key] = record
        self.trace.append(f"chose {record.type} {record.id}: {record.reason}")


def match(
    email: Email,
    directory: Directory,
    policy: MatchPolicy,
    attribution: tuple[User, bool] | None = None,
) -> MatchPlan:
    """The records ``email`` belongs to, and why; see the module docstring for the rules.
    ``attribution`` (the rep, and whether the email is an inbound copy) is the runner's,
    which knows Relay's reps and trusted networks; without it the rep is found here."""
    work = _Work()
    rep, inbound = attribution if attribution is not None else _find_rep(email, directory)
    if rep is None:
        work.trace.append("rep: no Salesforce User for the sender")
    else:
        role = " (a recipient: inbound copy)" if inbound else ""
        work.trace.append(f"rep: User {rep.id} ({rep.email}){role}")
    if email.machine_reason:
        work.trace.append(f"machine mail ({email.machine_reason}): never logged as a rep's email")
        return _freeze(work, "machine", (), rep, inbound)

    candidates = _candidates(email, rep, inbound, policy, work)
    for address in candidates:
        for person in _people_for(address, directory, policy, work):
            work.add(
                MatchedRecord(
                    person.id,
                    person.type,
                    Reason("address", address, _matched_fields(person, address)),
                    account_id=person.account_id,
                )
            )
    _add_opportunities(directory, policy, work)
    _add_thread_records(email, directory, work)
    _add_referenced_records(email, directory, work)

    outcome: Outcome
    if work.records:
        outcome = "matched"
        work.trace.append(f"outcome: matched, {len(work.records)} record(s)")
    else:
        outcome = _UNMATCHED_OUTCOME[policy.unmatched]
        work.trace.append(f"outcome: nothing matched; unmatched policy {policy.unmatched}")
    return _freeze(work, outcome, candidates, rep, inbound)


def _freeze(
    work: _Work,
    outcome: Outcome,
    candidates: Sequence[str],
    rep: User | None,
    inbound: bool = False,
) -> MatchPlan:
    records = sorted(work.records.values(), key=lambda r: (_TYPE_ORDER.get(r.type, 9), r.id))
    return MatchPlan(
        records=tuple(records),
        outcome=outcome,
        dropped=tuple(work.dropped),
        ambiguities=tuple(work.ambiguities),
        trace=tuple(work.trace),
        candidates=tuple(candidates),
        rep=rep,
        inbound=inbound,
    )


def rep_addresses(email: Email) -> tuple[list[str | None], list[str | None]]:
    """Where the rep may be, in order, as (senders, recipients): the From, Sender and
    envelope sender (and a journal report's sender); then the recipients, which make it
    an inbound copy: a journal report's recipients, or else the To then the Cc (none for
    a forward: a forward is always the forwarder's). The runners (relay/delivery/reps.py)
    look these up among Relay's reps, the matcher among the directory's Users."""
    senders: list[str | None] = [
        email.from_.email if email.from_ else None,
        email.sender.email if email.sender else None,
        email.envelope.mail_from,
    ]
    recipients: list[str | None] = []
    if email.journal is not None:
        journal = email.journal
        senders.append(journal.sender.email if journal.sender else None)
        recipients = [a.email for a in journal.recipients]
    elif email.forwarded is None:
        recipients = [a.email for a in (*email.to, *email.cc)]
    return senders, recipients


def _find_rep(email: Email, directory: Directory) -> tuple[User | None, bool]:
    """The rep this email is attributed to, and whether it is an inbound copy (the rep
    was found among the recipients): rep_addresses' order."""
    senders, recipients = rep_addresses(email)
    for addresses, inbound in ((senders, False), (recipients, True)):
        for address in addresses:
            user = directory.user_for(address)
            if user is not None:
                return user, inbound
    return None, False


def _raw_candidates(email: Email, inbound: bool, work: _Work) -> list[tuple[Address, str]]:
    if email.journal is not None:
        work.trace.append("journal report: candidates are its sender and every recipient")
        sender = [(email.journal.sender, "journal sender")] if email.journal.sender else []
        return sender + [(a, "journal recipient") for a in email.journal.recipients]
    if email.forwarded is not None:
        original = email.forwarded
        work.trace.append(
            f"forward ({original.source}): candidates are the original's From, To and Cc"
        )
        sender = [(original.from_, "original From")] if original.from_ else []
        return (
            sender
            + [(a, "original To") for a in original.to]
            + [(a, "original Cc") for a in original.cc]
        )
    if email.is_forward:
        work.trace.append("forward rule fired, but no original message was found in it")
    if inbound:
        work.trace.append(
            "inbound copy (the rep is a recipient): candidates are the From, To and Cc, "
            "as for an email the rep forwards"
        )
        sender = [(email.from_, "From")] if email.from_ else []
        return sender + [(a, "To") for a in email.to] + [(a, "Cc") for a in email.cc]
    work.trace.append("candidates are the To and Cc addresses (E2S)")
    for address in email.bcc:
        work.drop(address.email, "in the Bcc header; E2S never relates Bcc recipients")
    return [(a, "To") for a in email.to] + [(a, "Cc") for a in email.cc]


def _candidates(
    email: Email, rep: User | None, inbound: bool, policy: MatchPolicy, work: _Work
) -> list[str]:
    # An inbound copy's sender is the customer: the person to match, not a rep to drop.
    senders = () if inbound else (email.from_, email.sender)
    sender_addresses = {
        a.lower()
        for a in (
            *(mailbox.email for mailbox in senders if mailbox),
            "" if inbound else email.envelope.mail_from,
        )
        if a
    }
    rep_addresses = rep.addresses if rep else frozenset()
    seen: set[str] = set()
    kept: list[str] = []
    for mailbox, header in _raw_candidates(email, inbound, work):
        address = mailbox.email.lower()
        if not address or address in seen:
            continue
        seen.add(address)
        reason = _drop_reason(address, sender_addresses, rep_addresses, policy)
        if reason:
            work.drop(address, reason)
        elif len(kept) >= policy.max_candidates:
            work.drop(address, f"beyond the first {policy.max_candidates} unique addresses")
        else:
            kept.append(address)
            work.trace.append(f"candidate {address} ({header})")
    return kept


def _drop_reason(
    address: str, senders: set[str], rep: frozenset[str], policy: MatchPolicy
) -> str | None:
    domain = address.rpartition("@")[2]
    if policy.is_relay_address(address):
        return "Relay's own address"
    if address in rep:
        return "the rep's own address"
    if address in senders:
        return "the sender"
    if _in_domains(domain, policy.internal_domains):
        return "internal domain"
    if address in {a.lower() for a in policy.excluded_addresses}:
        return "excluded address"
    if _in_domains(domain, policy.excluded_domains):
        return "excluded domain"
    return None


def _in_domains(domain: str, domains: Iterable[str]) -> bool:
    """True if ``domain`` is one of ``domains`` or a subdomain of one (a guess at how an
    admin means "our domain": mail.example.com is as internal as example.com)."""
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def _matched_fields(person: Person, address: str) -> str:
    return f"{person.type} {' / '.join(person.fields_matching(address))}"


def _people_for(
    address: str, directory: Directory, policy: MatchPolicy, work: _Work
) -> list[Person]:
    eligible: list[Person] = []
    for person in sorted(directory.people_by_email.get(address, ()), key=lambda p: p.id):
        fields = person.fields_matching(address)
        if "Email" not in fields and not set(fields) & set(policy.extra_email_fields):
            work.drop(person.id, f"{address} is only in {', '.join(fields)}, not Email")
        elif person.type == "Lead" and person.is_converted:
            work.drop(person.id, f"{address}: converted Lead (IsConverted = true)")
        else:
            eligible.append(person)
    if not eligible:
        work.trace.append(f"{address}: no Contact or unconverted Lead")
        return []
    if len(eligible) == 1 or policy.multiple_matches == "all":
        return eligible
    if policy.multiple_matches == "oldest":
        chosen = min(eligible, key=lambda p: (p.created_date, p.id))
    else:  # most_activity: LastActivityDate, then the oldest (E2S's tie-break is a guess)
        chosen = min(
            eligible,
            key=lambda p: (
                -(p.last_activity_date.toordinal() if p.last_activity_date else 0),
                p.created_date,
                p.id,
            ),
        )
    work.ambiguities.append(
        Ambiguous(address, tuple(p.id for p in eligible), (chosen.id,), policy.multiple_matches)
    )
    for person in eligible:
        if person is not chosen:
            work.drop(person.id, f"{address}: not the {policy.multiple_matches} record")
    return [chosen]


def _add_opportunities(directory: Directory, policy: MatchPolicy, work: _Work) -> None:
    contacts = [r for r in work.records.values() if r.type == "Contact"]
    roles: dict[str, tuple[Opportunity, list[str]]] = {}
    for contact in sorted(contacts, key=lambda r: r.id):
        opportunities = directory.opportunities_by_contact.get(contact.id, ())
        open_ones = []
        for opportunity in opportunities:
            if opportunity.is_closed:
                work.drop(opportunity.id, f"closed Opportunity (contact role of {contact.id})")
            else:
                open_ones.append(opportunity)
        if policy.opportunities == "none":
            for opportunity in open_ones:
                work.drop(opportunity.id, "opportunity policy is none")
            continue
        if policy.opportunities == "most_recent_open" and len(open_ones) > 1:
            newest = max(open_ones, key=lambda o: (o.last_modified_date, o.created_date, o.id))
            for opportunity in open_ones:
                if opportunity is not newest:
                    work.drop(opportunity.id, f"not {contact.id}'s most recent open Opportunity")
            open_ones = [newest]
        for opportunity in open_ones:
            roles.setdefault(opportunity.id, (opportunity, []))[1].append(contact.id)
    for opportunity_id in sorted(roles):
        opportunity, contact_ids = roles[opportunity_id]
        work.add(
            MatchedRecord(
                opportunity.id,
                "Opportunity",
                Reason("opportunity_role", ", ".join(contact_ids), "open, contact role"),
                account_id=opportunity.account_id,
                contact_ids=tuple(contact_ids),
            )
        )


def _add_thread_records(email: Email, directory: Directory, work: _Work) -> None:
    seen: set[str] = set()
    for raw in (*email.in_reply_to, *email.references):
        message_id = normalise_message_id(raw)
        if not message_id or message_id in seen or message_id == email.message_key:
            continue
        seen.add(message_id)
        logged = directory.known_threads.get(message_id)
        if not logged:
            continue
        work.trace.append(f"thread: {message_id} was logged to {len(logged)} record(s)")
        for ref in sorted(logged, key=lambda r: r.id):
            work.add(MatchedRecord(ref.id, ref.type, Reason("thread", message_id)))


def _add_referenced_records(email: Email, directory: Directory, work: _Work) -> None:
    for raw_id in dict.fromkeys(email.record_refs):
        ref = directory.records_by_id.get(to_18(raw_id))
        if ref is None:
            kind = object_for_id(raw_id) or "unknown type"
            work.drop(raw_id, f"ref: id not found or not readable ({kind}); ignored as in E2S")
            continue
        work.add(MatchedRecord(ref.id, ref.type, Reason("ref", raw_id, "(ref: ...) tag")))
