"""The SOQL syntax tree: frozen values built by ``parser.parse_soql``.

Names are kept as written (any case); the evaluator resolves them against the catalog.
Every node that can be named in an error carries ``pos``, the 1-based (row, column) of its
first character, because Salesforce's errors point at the offending token ("ERROR at
Row:1:Column:12").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

Pos = tuple[int, int]


@dataclass(frozen=True)
class FieldPath:
    """``Email`` or ``Account.Owner.Email``: relationship names, then a field name."""

    parts: tuple[str, ...]
    pos: Pos

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class CountAll:
    """``COUNT()``: the query returns only totalSize."""

    pos: Pos


@dataclass(frozen=True)
class StringLit:
    """A quoted string. ``raw`` is the text between the quotes, escapes still in place,
    so LIKE can tell ``\\%`` (a percent sign) from ``%`` (a wildcard); ``value`` is the
    unescaped string."""

    value: str
    raw: str
    pos: Pos


@dataclass(frozen=True)
class NumberLit:
    value: Decimal
    pos: Pos


@dataclass(frozen=True)
class BoolLit:
    value: bool
    pos: Pos


@dataclass(frozen=True)
class NullLit:
    pos: Pos


@dataclass(frozen=True)
class DateLit:
    """``2024-01-31``: only valid against date fields."""

    value: date
    pos: Pos


@dataclass(frozen=True)
class DateTimeLit:
    """``2024-01-31T10:00:00Z`` (or with an offset), normalised to UTC."""

    value: datetime
    pos: Pos


@dataclass(frozen=True)
class DateRangeLit:
    """A relative date literal such as ``TODAY`` or ``LAST_N_DAYS:7`` (``name`` upper-case,
    ``n`` only for the ``_N_`` forms); it stands for a range of days relative to now."""

    name: str
    n: int | None
    pos: Pos


Literal = StringLit | NumberLit | BoolLit | NullLit | DateLit | DateTimeLit | DateRangeLit


@dataclass(frozen=True)
class Comparison:
    """``field op value`` with op one of ``= != < <= > >= LIKE`` (``<>`` is stored as ``!=``)."""

    field: FieldPath
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """``field IN (v1, v2)`` or, with ``negated``, ``field NOT IN (...)``."""

    field: FieldPath
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class SemiJoin:
    """``field IN (SELECT one_field FROM ...)``; with ``negated`` an anti-join."""

    field: FieldPath
    subquery: Query
    negated: bool


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InList | SemiJoin | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key. ``nulls_first`` None means the Salesforce default for the
    direction: ASC puts nulls first, DESC puts them last (SOQL and SOSL Reference,
    "ORDER BY")."""

    field: FieldPath
    descending: bool
    nulls_first: bool | None

    @property
    def effective_nulls_first(self) -> bool:
        return (not self.descending) if self.nulls_first is None else self.nulls_first


@dataclass(frozen=True)
class Query:
    """One SELECT statement. ``text`` is the whole query, for error messages."""

    select: tuple[FieldPath, ...] | CountAll
    sobject: str
    sobject_pos: Pos
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
    offset_pos: Pos | None
    text: str
