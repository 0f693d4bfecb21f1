"""The store's values and its interface, in one place for callers.

``Store`` is what both backends (SQLite, the default, and PostgreSQL) offer through
``SqlStore``: the queue, the delivery ledger and the rep records together
(relay/store/parts.py has each part and the tables it owns). The values (states,
messages, ledger rows, reps) are defined in relay/store/values.py and re-exported here.
"""

from __future__ import annotations

import abc

from relay.store.parts import (
    ChangeFeed,
    DeliveryRecords,
    MessageQueue,
    ReminderRecords,
    RepRecords,
)
from relay.store.values import (
    FINAL_STATES,
    INTENT,
    ORG_SCOPE,
    WRITTEN,
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
    new_unresolved,
)

__all__ = [
    "FINAL_STATES",
    "INTENT",
    "ORG_SCOPE",
    "WRITTEN",
    "ChangeFeed",
    "ChangeVersions",
    "Delivery",
    "DeliveryRecords",
    "MessageQueue",
    "Outcome",
    "Reminder",
    "ReminderRecords",
    "Rep",
    "RepRecords",
    "SenderAlias",
    "State",
    "Store",
    "StoredMessage",
    "Transition",
    "UnresolvedItem",
    "new_unresolved",
]


class Store(MessageQueue, DeliveryRecords, RepRecords, ChangeFeed, ReminderRecords, abc.ABC):
    """The one interface both store backends implement: the five parts together.

    Every method of every part is abstract except ``enqueue_nowait`` and
    ``wait_for_work``, which have working defaults; SqlStore overrides both.
    """
