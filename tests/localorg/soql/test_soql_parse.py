"""Parsing SOQL: the AST, keyword case, string escapes, literals, and the round trip with
simple_salesforce's own escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from relay.localorg.soql import SoqlError, parse_soql
from relay.localorg.soql.ast import (
    And,
    BoolLit,
    Comparison,
    CountAll,
    DateLit,
    DateRangeLit,
    DateTimeLit,
    FieldPath,
    InList,
    Not,
    NullLit,
    NumberLit,
    Or,
    SemiJoin,
    StringLit,
)


def _where_value(text: str) -> object:
    where = parse_soql(text).where
    assert isinstance(where, Comparison)
    return where.value


def test_full_query_shape() -> None:
    """Every clause lands in the AST, with keywords in any case and <> read as !=."""
    query = parse_soql(
        "select Id, Account.Owner.Email from Contact where (Email <> null or Name like 'a%') "
        "and not IsDeleted = TRUE order by Account.Name desc nulls first, Name limit 10 offset 5"
    )
    assert query.select == (
        FieldPath(("Id",), (1, 8)),
        FieldPath(("Account", "Owner", "Email"), (1, 12)),
    )
    assert query.sobject == "Contact"
    assert isinstance(query.where, And)
    first, second = query.where.items
    assert isinstance(first, Or)
    assert [item.op for item in first.items if isinstance(item, Comparison)] == ["!=", "LIKE"]
    assert isinstance(second, Not)
    assert [(o.field.text, o.descending, o.effective_nulls_first) for o in query.order_by] == [
        ("Account.Name", True, True),
        ("Name", False, True),
    ]
    assert (query.limit, query.offset) == (10, 5)


def test_count_and_semi_join() -> None:
    """COUNT() and IN/NOT IN (SELECT ...) parse to their own nodes."""
    query = parse_soql(
        "SELECT COUNT() FROM Opportunity WHERE Id IN (SELECT OpportunityId FROM "
        "OpportunityContactRole WHERE ContactId = '003000000000001') AND AccountId NOT IN "
        "(SELECT Id FROM Account)"
    )
    assert isinstance(query.select, CountAll)
    assert isinstance(query.where, And)
    semi, anti = query.where.items
    assert isinstance(semi, SemiJoin)
    assert isinstance(anti, SemiJoin)
    assert (semi.negated, anti.negated) == (False, True)
    assert semi.subquery.sobject == "OpportunityContactRole"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("null", NullLit((1, 37))),
        ("NULL", NullLit((1, 37))),
        ("True", BoolLit(True, (1, 37))),
        ("fALSE", BoolLit(False, (1, 37))),
        ("42", NumberLit(Decimal(42), (1, 37))),
        ("-1.5", NumberLit(Decimal("-1.5"), (1, 37))),
        ("2024-01-31", DateLit(date(2024, 1, 31), (1, 37))),
        (
            "2024-01-31T10:00:00Z",
            DateTimeLit(datetime(2024, 1, 31, 10, tzinfo=UTC), (1, 37)),
        ),
        (
            "2024-01-31T10:00:00.000Z",
            DateTimeLit(datetime(2024, 1, 31, 10, tzinfo=UTC), (1, 37)),
        ),
        (
            "2024-01-31T10:00:00+02:00",
            DateTimeLit(datetime(2024, 1, 31, 8, tzinfo=UTC), (1, 37)),
        ),
        (
            "2024-01-31T10:00:00-08:00",
            DateTimeLit(datetime(2024, 1, 31, 18, tzinfo=UTC), (1, 37)),
        ),
        ("today", DateRangeLit("TODAY", None, (1, 37))),
        ("LAST_N_DAYS:30", DateRangeLit("LAST_N_DAYS", 30, (1, 37))),
        ("next_n_days:7", DateRangeLit("NEXT_N_DAYS", 7, (1, 37))),
        ("THIS_MONTH", DateRangeLit("THIS_MONTH", None, (1, 37))),
    ],
)
def test_literals(literal: str, expected: object) -> None:
    """null, booleans, numbers, dates, datetimes (to UTC) and date literals, any case."""
    assert _where_value(f"SELECT Id FROM Contact WHERE Name = {literal}") == expected


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (r"o\'brien@example.com", "o'brien@example.com"),
        (r"back\\slash", "back\\slash"),
        (r"say \"hi\"", 'say "hi"'),
        (r"a\nb\Nc", "a\nb\nc"),
        (r"\r\R\t\T\b\B\f\F", "\r\r\t\t\b\b\f\f"),
        (r"caf\u00e9", "café"),
        (r"50\% \_x", "50% _x"),
        ("raw\ttab and é", "raw\ttab and é"),
    ],
)
def test_string_escapes(body: str, value: str) -> None:
    """Each escape in "Quoted String Escape Sequences" decodes to its character."""
    literal = _where_value(f"SELECT Id FROM Contact WHERE Name = '{body}'")
    assert literal == StringLit(value, body, (1, 37))


@pytest.mark.parametrize("sequence", [r"\q", r"\x41", r"\u00g1", r"\ ", r"\U00e9"])
def test_other_backslash_sequences_are_malformed(sequence: str) -> None:
    """Any backslash sequence the reference does not list is MALFORMED_QUERY."""
    with pytest.raises(SoqlError) as caught:
        parse_soql(f"SELECT Id FROM Contact WHERE Name = 'a{sequence}'")
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert "Illegal character sequence" in caught.value.message


def test_in_list_values_keep_their_order() -> None:
    """IN keeps every literal, so mixed nulls and strings survive."""
    where = parse_soql("SELECT Id FROM Lead WHERE Email IN ('a@x.com', null, 'B@x.com')").where
    assert isinstance(where, InList)
    assert [getattr(v, "value", None) for v in where.values] == ["a@x.com", None, "B@x.com"]


def test_parse_is_cached() -> None:
    """The same text parses once: the second call returns the very same Query."""
    text = "SELECT Id FROM Contact WHERE Email = 'cache@example.com'"
    assert parse_soql(text) is parse_soql(text)


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_format_soql_round_trips_ascii(value: str) -> None:
    """For any ASCII string, simple_salesforce's escaping parses back to exactly it."""
    text = format_soql("SELECT Id FROM Contact WHERE Email = {}", value)
    assert _where_value(text) == StringLit(value, text[38:-1], (1, 38))


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_format_soql_round_trips_lists_of_any_text(values: list[str]) -> None:
    """IN lists built by format_soql, of any Unicode text, parse back value for value."""
    where = parse_soql(format_soql("SELECT Id FROM Contact WHERE Email IN {}", values)).where
    assert isinstance(where, InList)
    assert [getattr(v, "value", None) for v in where.values] == values
