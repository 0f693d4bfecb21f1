"""Record ids: the case-safe suffix, 15/18 input, generation."""

from __future__ import annotations

import pytest

from relay.localorg.ids import (
    IdGenerator,
    case_safe_suffix,
    normalize_id,
    object_for_id,
)


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        # The first is a widely quoted real id; the others are checked by hand
        # (003A0000005QB3A: "5QB3A" has upper case at 1, 2, 4 -> 22 -> "W").
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("003A0000005QB3A", "003A0000005QB3AIAW"),
        ("00D000000000062", "00D000000000062EAA"),
    ],
)
def test_suffix_matches_known_examples(id15: str, id18: str) -> None:
    """The suffix algorithm reproduces real 18-character ids."""
    assert id15 + case_safe_suffix(id15) == id18
    assert normalize_id(id15) == id18
    assert normalize_id(id18) == id18


def test_eighteen_char_id_is_case_insensitive() -> None:
    """An 18-character id in the wrong letter case is restored by its suffix."""
    assert normalize_id("001a0000006vm9riac") == "001A0000006Vm9rIAC"


@pytest.mark.parametrize(
    "bad", ["", "abc", "001A0000006Vm9", "001A0000006Vm9rIAD", "001A0000006Vm9r!", 42, None]
)
def test_ill_formed_ids_are_rejected(bad: object) -> None:
    """Wrong length, bad characters or an inconsistent suffix are not ids."""
    assert normalize_id(bad) is None


def test_generated_ids_are_unique_monotonic_and_valid() -> None:
    """Ids carry the object's key prefix, sort in creation order and round-trip."""
    generator = IdGenerator()
    ids = [generator.new_id("Task") for _ in range(100)]
    assert len(set(ids)) == 100
    assert ids == sorted(ids)
    assert all(i.startswith("00T") and normalize_id(i) == i for i in ids)
    assert object_for_id(ids[0]) == "Task"


def test_generator_continues_after_observed_ids() -> None:
    """After a restart, ids continue past those already stored."""
    first = IdGenerator()
    last = [first.new_id("Account") for _ in range(3)][-1]
    second = IdGenerator()
    second.observe(last)
    assert second.new_id("Account") > last
