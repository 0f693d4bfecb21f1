"""Assigning and discarding an unresolved email: one decision shared by `relay
unresolved assign|discard` and the console's Activity page.

An unresolved email is an open Task on its rep with no Who and no What (Email to
Salesforce's "My Unresolved Items"). Assigning relates that Task to a record: a Contact
or Lead becomes its Who, anything else its What (the unresolved Task has neither, so the
Lead rule "a Lead Who allows no What" holds), completes it, and records the Task in the
delivery ledger so later replies in the thread follow it. Discarding deletes the Task.
"""

from __future__ import annotations

from relay.matching import relay_key
from relay.store.model import WRITTEN, Delivery, UnresolvedItem

PEOPLE = frozenset({"Contact", "Lead"})


def task_changes(sobject: str, record_id: str) -> dict[str, str]:
    """The Task fields an assignment to ``record_id`` (a ``sobject``) sets."""
    field_name = "WhoId" if sobject in PEOPLE else "WhatId"
    return {field_name: record_id, "Status": "Completed"}


def assigned_delivery(item: UnresolvedItem, record_id: str) -> Delivery:
    """The ledger row of an assigned item's Task (written: it exists in Salesforce)."""
    assert item.task_id is not None
    return Delivery(
        relay_key=relay_key(item.message_key, record_id),
        message_key=item.message_key,
        record_id=record_id,
        records=(record_id,),
        queue_id=item.queue_id,
        owner_id=item.owner_id,
        task_id=item.task_id,
        state=WRITTEN,
    )
