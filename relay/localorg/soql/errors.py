"""SOQL errors, worded and located the way Salesforce words and locates them.

The REST API answers a bad query with HTTP 400 and
``[{"message": ..., "errorCode": "MALFORMED_QUERY"}]``. The message quotes the query, puts a
caret under the offending token and names its 1-based row and column, for example::

    \\nSELECT Id, Emial FROM Contact\\n           ^\\nERROR at Row:1:Column:12\\nNo such column ...

The layout follows responses captured from real orgs (quoted in Salesforce StackExchange
threads and in the brief for this module). Salesforce sometimes shows only a window of a
long query around the error; we show the whole offending row (a guess that keeps the caret
meaningful).
"""

from __future__ import annotations

from relay.localorg.soql.ast import Pos

MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
# Salesforce answers `Id = 'nonsense'` with this code and "invalid ID field: nonsense"
# (seen in real org responses; the SOQL reference does not list error codes).
INVALID_QUERY_FILTER_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"
# "Maximum SOQL offset allowed is 2000" (SOQL and SOSL Reference, "OFFSET": the maximum
# offset is 2,000 rows; the code is what real orgs return).
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"


class SoqlError(Exception):
    """A query Salesforce would refuse. ``error_code`` is the REST ``errorCode``."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


def located(text: str, pos: Pos, detail: str) -> str:
    """The message body for an error at ``pos`` in ``text``: the row, a caret, the place."""
    row, column = pos
    lines = text.split("\n")
    line = lines[row - 1] if 0 < row <= len(lines) else ""
    caret = " " * max(column - 1, 0) + "^"
    return f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"


def error_at(code: str, text: str, pos: Pos, detail: str) -> SoqlError:
    return SoqlError(code, located(text, pos, detail))


def no_such_column(text: str, pos: Pos, name: str, sobject: str) -> SoqlError:
    return error_at(
        INVALID_FIELD,
        text,
        pos,
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )


def unknown_relationship(text: str, pos: Pos, name: str) -> SoqlError:
    return error_at(
        INVALID_FIELD,
        text,
        pos,
        f"Didn't understand relationship '{name}' in field path. If you are attempting to "
        "use a custom relationship, be sure to append the '__r' after the custom "
        "relationship name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def unknown_sobject(text: str, pos: Pos, name: str) -> SoqlError:
    return error_at(
        INVALID_TYPE,
        text,
        pos,
        f"sObject type '{name}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def unexpected_token(text: str, pos: Pos, token: str) -> SoqlError:
    return error_at(MALFORMED_QUERY, text, pos, f"unexpected token: '{token}'")
