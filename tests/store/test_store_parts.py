"""SqlStore is its parts put together (relay/store/sql_store.py): each part is a mixin
that defines its own methods and only declares (annotates) what it needs from the
others, so the order of the bases never decides which code runs."""

from __future__ import annotations

import inspect
from types import FunctionType

from relay.store import SqlStore
from relay.store.model import Store


def store_parts() -> list[type]:
    return [base for base in SqlStore.__bases__ if base is not Store]


def defined_methods(part: type) -> set[str]:
    """The names a part defines code for (methods, static methods, properties)."""
    kinds = (FunctionType, staticmethod, classmethod, property)
    return {
        name
        for name, value in vars(part).items()
        if isinstance(value, kinds) and not (name.startswith("__") and name.endswith("__"))
    }


def test_the_parts_are_the_store_modules_mixins() -> None:
    modules = {part.__module__ for part in store_parts()}
    assert {
        "relay.store.intake",
        "relay.store.queue_reads",
        "relay.store.claims",
        "relay.store.state_changes",
        "relay.store.readiness",
        "relay.store.changes",
        "relay.store.ledger",
    } <= modules


def test_every_method_has_one_home_among_the_parts() -> None:
    # A part that defined a stand-in for another part's method (a stub to satisfy the
    # type checker) would win or lose by the order of SqlStore's bases: declare it as an
    # annotation instead, which defines nothing.
    homes: dict[str, list[str]] = {}
    for part in store_parts():
        for name in defined_methods(part):
            homes.setdefault(name, []).append(part.__name__)
    assert {name: parts for name, parts in homes.items() if len(parts) > 1} == {}


def test_what_each_part_declares_it_needs_a_built_store_has(store: SqlStore) -> None:
    missing = [
        f"{part.__name__}.{name}"
        for part in store_parts()
        for name in inspect.get_annotations(part)
        if not hasattr(store, name)
    ]
    assert missing == []
