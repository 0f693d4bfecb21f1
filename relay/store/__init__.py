"""The durable store, the bottom layer of Relay (docs/design.md §1, §3): the queue of
accepted messages with their states and history (tables.py, history.py, lifecycle.py;
intake.py, queue_reads.py, claims.py, state_changes.py and readiness.py, put together
with the other parts in sql_store.py), the delivery ledger and unresolved items
(ledger.py), the reps, sender aliases and settings (reps.py), retention (retention.py),
erasure (erasure.py), the change versions that tell other processes what changed
(changes.py) and the leases a start-up may take back (leases.py), with the values they
share (values.py) and the ``Store`` interface made of one part per group of tables
(parts.py, model.py). It may import ``relay.envelope``, ``relay.errors`` and
``relay.logs`` and nothing above them; inside it, no module imports another in a cycle
(tests/store/test_store_imports.py checks both).

``open_store(url)`` is the one way in: it opens ``sqlite:///PATH`` (the default, in
RELAY_HOME) or ``postgresql://...``, brings the schema to the newest migration and
returns a ``Store``.
"""

from __future__ import annotations

from relay.errors import StoreUnavailable
from relay.store.engine import create_store_engine
from relay.store.errors import InvalidTransition, UnknownMessage, describe_failure
from relay.store.lifecycle import NOT_FINAL
from relay.store.migrate import upgrade_to_head
from relay.store.model import FINAL_STATES, State, Store, StoredMessage, Transition
from relay.store.sql_store import SqlStore

__all__ = [
    "FINAL_STATES",
    "NOT_FINAL",
    "InvalidTransition",
    "SqlStore",
    "State",
    "Store",
    "StoredMessage",
    "Transition",
    "UnknownMessage",
    "open_store",
]


def open_store(url: str) -> SqlStore:
    """Open the store at ``url``, migrated to head.

    Raises ValueError for a URL that is not a store URL, and StoreUnavailable (with a
    readable reason) when the database cannot be created, reached or migrated.
    """
    try:
        engine = create_store_engine(url)
    except OSError as error:  # e.g. RELAY_HOME cannot be created
        raise StoreUnavailable(f"cannot open the store: {describe_failure(error)}") from error
    try:
        upgrade_to_head(engine)
    except Exception as error:
        engine.dispose()
        raise StoreUnavailable(f"cannot open the store: {describe_failure(error)}") from error
    return SqlStore(engine)
