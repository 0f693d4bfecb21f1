"""The directory a batch is matched against: ONE cached lookup for every email of the
batch (relay/salesforce/directory.py), the thread records from the ledger, and each
attributed rep with every acceptable address (``with_reps``).

The matcher must use Relay's attribution as the rep, never its own guess (its directory
has every active User, portal Users included), and aliases registered in Relay are
unknown to Salesforce's User.Email lookup: hence the patch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from relay.delivery.plan import lookup_keys
from relay.delivery.reps import Reps
from relay.delivery.route import Routed
from relay.matching import Directory, MatchPolicy, RecordRef
from relay.matching.model import User, object_for_id
from relay.parsing import Email
from relay.salesforce.client import SalesforceClient
from relay.salesforce.directory import DirectoryCache
from relay.store.model import Store


def fetch_directory(
    store: Store,
    client: SalesforceClient,
    cache: DirectoryCache,
    emails: Sequence[Email],
    policy: MatchPolicy,
) -> Directory:
    """The records every email of ``emails`` needs, in one (cached) lookup."""
    keys = [lookup_keys(email, policy) for email in emails]
    thread_ids = {t for k in keys for t in k.thread_ids}
    threads = store.known_threads(thread_ids) if thread_ids else {}
    known = {
        message_key: [RecordRef(r, object_for_id(r) or "Unknown") for r in records]
        for message_key, records in threads.items()
    }
    return cache.fetch(
        client,
        sorted({a for k in keys for a in k.addresses}),
        record_ids=sorted({r for k in keys for r in k.record_ids}),
        sender_addresses=sorted({s for k in keys for s in k.senders}),
        extra_email_fields=policy.extra_email_fields,
        known_threads=known,
    )


def user_for(reps: Reps, routed: Routed) -> User | None:
    """The attributed rep as the matcher's User, with every acceptable address."""
    if routed.rep is None:
        return None
    addresses = reps.directory.acceptable_addresses(routed.rep.user_id)
    return User(routed.rep.user_id, routed.rep.email, addresses)


def attribution(reps: Reps, routed: Routed) -> tuple[User, bool] | None:
    """What the matcher must use as the rep, and whether the email is inbound."""
    user = user_for(reps, routed)
    return None if user is None else (user, routed.inbound)


def with_reps(directory: Directory, reps: Reps, routed: Iterable[Routed]) -> Directory:
    """The directory plus each attributed rep with every acceptable address."""
    users = dict(directory.users_by_email)
    for item in routed:
        user = user_for(reps, item)
        if user is not None:
            users.update({address.lower(): user for address in user.addresses})
    return replace(directory, users_by_email=users)
