"""Every SOQL error code, with a Salesforce-style message that points at the problem."""

from __future__ import annotations

import pytest

from relay.localorg.soql import SoqlError
from tests.localorg.soql.soql_memory_catalog import Run


def test_unknown_field_message_matches_salesforce_layout(run: Run) -> None:
    """An unknown column is INVALID_FIELD with the query, a caret and Row/Column."""
    with pytest.raises(SoqlError) as caught:
        run("SELECT Id, Emial FROM Contact")
    assert caught.value.error_code == "INVALID_FIELD"
    assert caught.value.message == (
        "\nSELECT Id, Emial FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'Emial' on entity 'Contact'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference "
        "your WSDL or the describe call for the appropriate names."
    )


@pytest.mark.parametrize(
    ("query", "code", "column", "detail"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY", 15, "unexpected token: '<EOF>'"),
        ("SELECT Id, FROM Contact", "MALFORMED_QUERY", 12, "unexpected token: 'FROM'"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", 29, "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Contact WHERE Name = 'a' AND Email = 'b' OR Id = null",
            "MALFORMED_QUERY",
            57,
            "unexpected token: 'OR'",
        ),
        ('SELECT Id FROM Contact WHERE Name = "a"', "MALFORMED_QUERY", 37, "unexpected token"),
        (
            "SELECT Id FROM Contact WHERE Name = Bob",
            "MALFORMED_QUERY",
            37,
            "unexpected token: 'Bob'",
        ),
        ("SELECT Id FROM Contact LIMIT 5 WHERE Name = 'a'", "MALFORMED_QUERY", 32, "'WHERE'"),
        (
            r"SELECT Id FROM Contact WHERE Name = 'a\qb'",
            "MALFORMED_QUERY",
            39,
            r"Illegal character sequence '\q' in string literal.",
        ),
        (
            r"SELECT Id FROM Contact WHERE Name = 'a\u12'",
            "MALFORMED_QUERY",
            39,
            r"Illegal character sequence '\u' in string literal.",
        ),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-02-30", "MALFORMED_QUERY", 42, "date"),
        ("SELECT Id FROM Contct", "INVALID_TYPE", 16, "sObject type 'Contct' is not supported."),
        ("SELECT Id FROM Contact WHERE Emial = 'x'", "INVALID_FIELD", 30, "No such column 'Emial'"),
        ("SELECT Acount.Name FROM Contact", "INVALID_FIELD", 8, "relationship 'Acount'"),
        ("SELECT Account.Nme FROM Contact", "INVALID_FIELD", 8, "'Nme' on entity 'Account'"),
        ("SELECT Id FROM Contact ORDER BY Phone", "INVALID_FIELD", 33, "No such column 'Phone'"),
        (
            "SELECT Id FROM Opportunity WHERE IsClosed = 'true'",
            "INVALID_FIELD",
            45,
            "value of filter criterion for field 'IsClosed' must be of type boolean and "
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Opportunity WHERE CloseDate > '2024-01-01'",
            "INVALID_FIELD",
            46,
            "field 'CloseDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Opportunity WHERE CloseDate > 2024-01-01T00:00:00Z",
            "INVALID_FIELD",
            46,
            "must be of type date",
        ),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01",
            "INVALID_FIELD",
            44,
            "field 'CreatedDate' must be of type dateTime",
        ),
        (
            "SELECT Id FROM Contact WHERE Email = 42",
            "INVALID_FIELD",
            38,
            "must be of type string and should be enclosed in quotes",
        ),
        ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_FIELD", 43, "type currency"),
        ("SELECT Id FROM Contact WHERE Name = TODAY", "INVALID_FIELD", 37, "type string"),
        (
            "SELECT Id FROM Account WHERE Description = 'x'",
            "INVALID_FIELD",
            30,
            "field 'Description' can not be filtered in a query call",
        ),
        (
            "SELECT Id FROM Account ORDER BY Description",
            "INVALID_FIELD",
            33,
            "field 'Description' can not be sorted in a query call",
        ),
        ("SELECT Id, id FROM Account", "INVALID_FIELD", 12, "duplicate field selected: id"),
        (
            "SELECT Id FROM Contact WHERE Id = 'nope'",
            "INVALID_QUERY_FILTER_OPERATOR",
            35,
            "invalid ID field: nope",
        ),
        (
            "SELECT Id FROM Opportunity WHERE IsClosed LIKE 'true'",
            "INVALID_QUERY_FILTER_OPERATOR",
            34,
            "invalid operator on boolean field",
        ),
        (
            "SELECT Id FROM Contact WHERE Name IN (SELECT Id FROM Account)",
            "INVALID_FIELD",
            30,
            "semi join",
        ),
        (
            "SELECT Id FROM Contact WHERE Id IN (SELECT Id, Name FROM Account)",
            "MALFORMED_QUERY",
            48,
            "single id or reference field",
        ),
        (
            "SELECT Id FROM Contact WHERE AccountId IN (SELECT Nme FROM Account)",
            "INVALID_FIELD",
            51,
            "No such column 'Nme' on entity 'Account'",
        ),
        (
            "SELECT Id FROM Contact LIMIT 5 OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            32,
            "Maximum SOQL offset allowed is 2000",
        ),
    ],
)
def test_error_codes_and_locations(
    run: Run, query: str, code: str, column: int, detail: str
) -> None:
    """Each refused query has Salesforce's code, a caret at the culprit, and the reason."""
    with pytest.raises(SoqlError) as caught:
        run(query)
    error = caught.value
    assert error.error_code == code
    assert f"ERROR at Row:1:Column:{column}\n" in error.message
    assert detail in error.message
    lines = error.message.split("\n")
    assert lines[1] == query
    assert lines[2] == " " * (column - 1) + "^"


def test_error_on_a_later_row_names_that_row(run: Run) -> None:
    """In a multi-line query the message quotes the offending row and its number."""
    with pytest.raises(SoqlError) as caught:
        run("SELECT Id\nFROM Contact\nWHERE Emial = 'x'")
    assert caught.value.message.startswith(
        "\nWHERE Emial = 'x'\n      ^\nERROR at Row:3:Column:7\n"
    )


def test_offset_of_2000_is_allowed(run: Run) -> None:
    """OFFSET 2000 is the documented maximum and still runs."""
    assert run("SELECT Id FROM Contact OFFSET 2000").records == []
