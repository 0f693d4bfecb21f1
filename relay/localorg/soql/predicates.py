"""WHERE clauses compiled to predicates over rows, with Salesforce's type rules.

Semantics, with sources:
- String comparisons (=, !=, <, >, IN, LIKE) are case-insensitive ("Comparison Operators":
  "=, !=, ... are case-insensitive for most fields"); ids compare in their 18-character
  form, so a 15-character literal matches too ("Field Types", ID).
- A literal must have the field's type ("fieldExpression Syntax": "Supply a value whose
  data type matches the field type"); a date literal only filters date fields and a
  dateTime literal only dateTime fields ("Date Formats and Date Literals in WHERE").
- ``x != 'a'`` and ``x NOT IN ('a')`` select rows where x is null: SOQL treats null as an
  ordinary value, not SQL's unknown (``WHERE x = null`` selects nulls). Guess, from
  observed org behaviour rather than a documented rule. Ordered comparisons (<, >) and
  LIKE never match null.
- A relative date literal stands for a range of days: ``= TODAY`` is inside it, ``<`` is
  before its start, ``>`` after its end ("Date Formats and Date Literals in WHERE").
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from relay.localorg.soql.ast import (
    And,
    BoolLit,
    Comparison,
    Condition,
    DateLit,
    DateRangeLit,
    DateTimeLit,
    InList,
    Literal,
    Not,
    NullLit,
    NumberLit,
    Or,
    StringLit,
)
from relay.localorg.soql.errors import (
    INVALID_FIELD,
    INVALID_QUERY_FILTER_OPERATOR,
    SoqlError,
    error_at,
)
from relay.localorg.soql.literals import date_range, like_pattern, normalize_id
from relay.localorg.soql.resolve import (
    ID_TYPES,
    NUMBER_TYPES,
    STRING_TYPES,
    ResolvedField,
    Row,
)

Predicate = Callable[[Row], bool]
Getter = Callable[[Row], Any]

_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@lru_cache(maxsize=65536)
def parse_row_datetime(value: str) -> datetime:
    """A REST datetime (``2024-01-31T10:00:00.000+0000``) as an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


class LiteralChecker:
    """Turns literals into comparable keys for one field, raising Salesforce's errors
    when the literal's type does not fit the field's."""

    def __init__(self, field: ResolvedField, text: str, today: date) -> None:
        self.field = field
        self.text = text
        self.today = today

    def key(self, literal: Literal) -> Any:
        """The comparable form of a non-null, non-range literal for this field."""
        kind = self.field.type
        if kind in ID_TYPES:
            value = self._expect(literal, StringLit, "id", quoted=True)
            normalized = normalize_id(value)
            if normalized is None:
                # Real orgs answer INVALID_QUERY_FILTER_OPERATOR "invalid ID field: x".
                raise error_at(
                    INVALID_QUERY_FILTER_OPERATOR,
                    self.text,
                    literal.pos,
                    f"invalid ID field: {value}",
                )
            return normalized
        if kind == "boolean":
            return self._expect(literal, BoolLit, "boolean", quoted=False)
        if kind in NUMBER_TYPES:
            return float(self._expect(literal, NumberLit, kind, quoted=False))
        if kind == "date":
            return self._expect(literal, DateLit, "date", quoted=False).isoformat()
        if kind == "datetime":
            return self._expect(literal, DateTimeLit, "dateTime", quoted=False)
        # Strings and anything the catalog types loosely compare case-insensitively.
        text = self._expect(literal, StringLit, "string", quoted=True)
        return text if self.field.info.case_sensitive else text.casefold()

    def row_key(self, value: Any) -> Any:
        """The comparable form of a (non-null) row value for this field."""
        kind = self.field.type
        if kind in NUMBER_TYPES:
            return float(value)
        if kind == "datetime":
            return parse_row_datetime(value)
        if isinstance(value, str) and kind not in ID_TYPES and kind != "date":
            return value if self.field.info.case_sensitive else value.casefold()
        return value

    def range_keys(self, literal: DateRangeLit) -> tuple[Any, Any]:
        """[start, end) of a relative date literal in this field's row-key space."""
        if self.field.type not in ("date", "datetime"):
            raise self._type_error(literal, self._type_word(), quoted=self._quoted())
        start, end = date_range(literal.name, literal.n, self.today)
        if self.field.type == "date":
            return start.isoformat(), end.isoformat()
        return (
            datetime.combine(start, time(), UTC),
            datetime.combine(end, time(), UTC),
        )

    def _expect(self, literal: Literal, kind: type[Any], word: str, *, quoted: bool) -> Any:
        if not isinstance(literal, kind):
            raise self._type_error(literal, word, quoted=quoted)
        return literal.value

    def _type_word(self) -> str:
        kind = self.field.type
        if kind in ID_TYPES:
            return "id"
        if kind in STRING_TYPES:
            return "string"
        return kind

    def _quoted(self) -> bool:
        return self.field.type in ID_TYPES or self.field.type in STRING_TYPES

    def _type_error(self, literal: Literal, word: str, *, quoted: bool) -> SoqlError:
        # Wording as real orgs return it (INVALID_FIELD), e.g. "value of filter criterion
        # for field 'IsClosed' must be of type boolean and should not be enclosed in quotes".
        enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return error_at(
            INVALID_FIELD,
            self.text,
            literal.pos,
            f"value of filter criterion for field '{self.field.name}' must be of type "
            f"{word} and {enclosed}",
        )


def compile_comparison(
    getter: Getter, checker: LiteralChecker, comparison: Comparison
) -> Predicate:
    op, literal = comparison.op, comparison.value
    field = checker.field
    if op == "LIKE":
        return _compile_like(getter, checker, literal)
    if isinstance(literal, NullLit):
        if op == "=":
            return lambda row: getter(row) is None
        if op == "!=":
            return lambda row: getter(row) is not None
        return lambda row: False  # guess: ordering against null selects nothing
    if isinstance(literal, DateRangeLit):
        return _compile_range(getter, checker, op, literal)
    if field.type == "boolean" and op in _ORDERED:
        raise _bad_operator(checker, comparison)
    target = checker.key(literal)
    row_key = checker.row_key
    if op == "=":
        return lambda row: (v := getter(row)) is not None and row_key(v) == target
    if op == "!=":
        return lambda row: (v := getter(row)) is None or row_key(v) != target
    compare = _ORDERED[op]
    return lambda row: (v := getter(row)) is not None and compare(row_key(v), target)


def _compile_like(getter: Getter, checker: LiteralChecker, literal: Literal) -> Predicate:
    kind = checker.field.type
    if kind not in STRING_TYPES and kind not in ID_TYPES:
        raise error_at(
            INVALID_QUERY_FILTER_OPERATOR,
            checker.text,
            checker.field.path.pos,
            f"invalid operator on {kind} field",  # guess, after "invalid operator on
        )  # multipicklist field", which real orgs return
    if not isinstance(literal, StringLit):
        raise checker._type_error(literal, "string", quoted=True)
    match = like_pattern(literal.raw).fullmatch
    return lambda row: (v := getter(row)) is not None and match(v) is not None


def _compile_range(
    getter: Getter, checker: LiteralChecker, op: str, literal: DateRangeLit
) -> Predicate:
    start, end = checker.range_keys(literal)
    row_key = checker.row_key

    def inside(row: Row) -> bool:
        v = getter(row)
        return v is not None and start <= row_key(v) < end

    if op == "=":
        return inside
    if op == "!=":
        return lambda row: not inside(row)
    bound, compare = {
        "<": (start, operator.lt),
        "<=": (end, operator.lt),
        ">": (end, operator.ge),
        ">=": (start, operator.ge),
    }[op]
    return lambda row: (v := getter(row)) is not None and compare(row_key(v), bound)


def compile_in(getter: Getter, checker: LiteralChecker, condition: InList) -> Predicate:
    keys: set[Any] = set()
    ranges: list[Predicate] = []
    with_null = False
    for literal in condition.values:
        if isinstance(literal, NullLit):
            with_null = True
        elif isinstance(literal, DateRangeLit):
            ranges.append(_compile_range(getter, checker, "=", literal))
        else:
            keys.add(checker.key(literal))
    row_key = checker.row_key

    def member(row: Row) -> bool:
        v = getter(row)
        if v is None:
            return with_null
        return row_key(v) in keys or any(inside(row) for inside in ranges)

    if condition.negated:
        return lambda row: not member(row)
    return member


def _bad_operator(checker: LiteralChecker, comparison: Comparison) -> SoqlError:
    return error_at(
        INVALID_QUERY_FILTER_OPERATOR,
        checker.text,
        comparison.field.pos,
        f"invalid operator on {checker.field.type} field",  # guess, as for LIKE above
    )


def combine(condition: Condition, leaf: Callable[[Condition], Predicate]) -> Predicate:
    """Compile AND/OR/NOT around leaves compiled by ``leaf``."""
    if isinstance(condition, And):
        parts = [combine(item, leaf) for item in condition.items]
        return lambda row: all(part(row) for part in parts)
    if isinstance(condition, Or):
        parts = [combine(item, leaf) for item in condition.items]
        return lambda row: any(part(row) for part in parts)
    if isinstance(condition, Not):
        inner = combine(condition.item, leaf)
        return lambda row: not inner(row)
    return leaf(condition)
