"""``parse_soql(text) -> Query``: lark's LALR parser over grammar.lark, building ast nodes.

Parsing is pure and cached on the query text: the local org sees the same lookups again
and again, and a cache hit costs a dictionary probe instead of a parse.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from relay.localorg.soql.ast import (
    And,
    BoolLit,
    Comparison,
    Condition,
    CountAll,
    DateLit,
    DateRangeLit,
    DateTimeLit,
    FieldPath,
    InList,
    Literal,
    Not,
    NullLit,
    NumberLit,
    Or,
    OrderItem,
    Pos,
    Query,
    SemiJoin,
    StringLit,
)
from relay.localorg.soql.errors import (
    MALFORMED_QUERY,
    SoqlError,
    error_at,
    unexpected_token,
)
from relay.localorg.soql.literals import BadEscape, unescape

_GRAMMAR = files("relay.localorg.soql").joinpath("grammar.lark").read_text()


class _ToAst(Transformer[Token, Any]):
    """Rule callbacks, run by the LALR parser as it reduces (lark's inline transformer)."""

    def start(self, children: list[Any]) -> Query:
        query: Query = children[0]
        return query

    def query(self, children: list[Any]) -> Query:
        select, sobject, *clauses = children
        parts: dict[str, Any] = {"where": None, "order_by": (), "limit": None, "offset": None}
        for kind, value in clauses:
            parts[kind] = value
        offset, offset_pos = parts["offset"] or (None, None)
        return Query(
            select=select,
            sobject=str(sobject),
            sobject_pos=_pos(sobject),
            where=parts["where"],
            order_by=parts["order_by"],
            limit=parts["limit"],
            offset=offset,
            offset_pos=offset_pos,
            text="",  # filled in by _parse_uncached, which knows the text
        )

    def count_all(self, children: list[Token]) -> CountAll:
        return CountAll(_pos(children[0]))

    def field_list(self, children: list[FieldPath]) -> tuple[FieldPath, ...]:
        return tuple(children)

    def field_path(self, children: list[Token]) -> FieldPath:
        return FieldPath(tuple(str(name) for name in children), _pos(children[0]))

    def where(self, children: list[Condition]) -> tuple[str, Condition]:
        return ("where", children[0])

    def and_cond(self, children: list[Condition]) -> And:
        return And(tuple(children))

    def or_cond(self, children: list[Condition]) -> Or:
        return Or(tuple(children))

    def not_cond(self, children: list[Condition]) -> Not:
        return Not(children[0])

    def comparison(self, children: list[Any]) -> Comparison:
        field, op, value = children
        operator = str(op).upper()
        return Comparison(field, "!=" if operator == "<>" else operator, value)

    def in_list(self, children: list[Any]) -> InList:
        return InList(children[0], tuple(children[1:]), negated=False)

    def not_in_list(self, children: list[Any]) -> InList:
        return InList(children[0], tuple(children[2:]), negated=True)

    def semi_join(self, children: list[Any]) -> SemiJoin:
        return SemiJoin(children[0], children[1], negated=False)

    def anti_join(self, children: list[Any]) -> SemiJoin:
        return SemiJoin(children[0], children[2], negated=True)

    def value(self, children: list[Token]) -> Literal:
        return self._literal(children[0])

    def order_by(self, children: list[OrderItem]) -> tuple[str, tuple[OrderItem, ...]]:
        return ("order_by", tuple(children))

    def order_item(self, children: list[Any]) -> OrderItem:
        field, *tokens = children
        words = [str(token).upper() for token in tokens]
        nulls_first = None
        if "FIRST" in words:
            nulls_first = True
        elif "LAST" in words:
            nulls_first = False
        return OrderItem(field, descending="DESC" in words, nulls_first=nulls_first)

    def limit(self, children: list[Token]) -> tuple[str, int]:
        return ("limit", int(children[0]))

    def offset(self, children: list[Token]) -> tuple[str, tuple[int, Pos]]:
        return ("offset", (int(children[1]), _pos(children[0])))

    def _literal(self, token: Token) -> Literal:
        pos = _pos(token)
        kind = token.type
        text = str(token)
        if kind == "STRING":
            raw = text[1:-1]
            try:
                return StringLit(unescape(raw), raw, pos)
            except BadEscape as bad:
                # Wording is a guess modelled on Salesforce's lexer errors; the code and
                # the rule ("an error occurs") are from "Quoted String Escape Sequences".
                raise _LiteralError(
                    (pos[0], pos[1] + 1 + bad.offset),
                    f"Invalid string literal '{raw}'. Illegal character sequence "
                    f"'{bad.sequence}' in string literal.",
                ) from None
        if kind == "NUMBER":
            return NumberLit(Decimal(text), pos)
        if kind == "NULL":
            return NullLit(pos)
        if kind in ("TRUE", "FALSE"):
            return BoolLit(kind == "TRUE", pos)
        if kind == "DATE":
            return DateLit(self._checked(date.fromisoformat, text, pos), pos)
        if kind == "DATETIME":
            return DateTimeLit(self._checked(_parse_datetime, text, pos), pos)
        if kind == "DATE_N":
            name, _, count = text.replace(" ", "").partition(":")
            return DateRangeLit(name.upper(), int(count), pos)
        return DateRangeLit(text.upper(), None, pos)

    def _checked(self, convert: Any, text: str, pos: Pos) -> Any:
        try:
            return convert(text)
        except ValueError:
            # Guess: an impossible date such as 2024-02-30 reads as a malformed literal.
            raise _LiteralError(pos, f"invalid date: {text}") from None


class _LiteralError(Exception):
    """A bad literal found while reducing; turned into a located SoqlError by the caller."""

    def __init__(self, pos: Pos, detail: str) -> None:
        super().__init__(detail)
        self.pos = pos
        self.detail = detail


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return value.astimezone(UTC)


def _pos(token: Token) -> Pos:
    return (token.line or 1, token.column or 1)


def _end_pos(text: str) -> Pos:
    lines = text.split("\n")
    return (len(lines), len(lines[-1]) + 1)


def _syntax_error(text: str, error: UnexpectedInput) -> SoqlError:
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return unexpected_token(text, _end_pos(text), "<EOF>")
    if isinstance(error, UnexpectedToken):
        return unexpected_token(text, _pos(error.token), str(error.token))
    if isinstance(error, UnexpectedCharacters):
        # Name the run of characters the lexer could not read, up to the next space.
        rest = text[error.pos_in_stream :].split(None, 1)
        return unexpected_token(text, (error.line, error.column), rest[0] if rest else "")
    return unexpected_token(text, _end_pos(text), "<EOF>")


# SOQL reserved words cannot name a field or an object (SOQL and SOSL Reference, "Alias
# Notation": "You can't use a SOQL reserved keyword as an alias"; the same list is reserved
# in field position). Retyping them makes the parser report "unexpected token: 'FROM'".
_RESERVED = frozenset(
    [
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FIRST",
        "FROM",
        "GROUP",
        "HAVING",
        "IN",
        "INCLUDES",
        "LAST",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "WHERE",
        "WITH",
    ]
)


def _reserved_word(token: Token) -> Token:
    if token.upper() in _RESERVED:
        return Token.new_borrow_pos("RESERVED_WORD", str(token), token)
    return token


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # The transformer runs inline as the LALR parser reduces, so no parse tree is built.
    return Lark(
        _GRAMMAR,
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=False,
        transformer=_ToAst(),
        lexer_callbacks={"NAME": _reserved_word},
    )


def _parse_uncached(text: str) -> Query:
    try:
        query = cast(Query, _lark().parse(text))
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    except _LiteralError as error:
        raise error_at(MALFORMED_QUERY, text, error.pos, error.detail) from None
    return _with_text(query, text)


def _with_text(query: Query, text: str) -> Query:
    """The query (and its subqueries) with ``text`` attached, for error messages."""
    return replace(query, text=text, where=_condition_with_text(query.where, text))


def _condition_with_text(condition: Condition | None, text: str) -> Condition | None:
    if isinstance(condition, SemiJoin):
        return replace(condition, subquery=_with_text(condition.subquery, text))
    if isinstance(condition, And | Or):
        items = tuple(_condition_with_text(item, text) for item in condition.items)
        return replace(condition, items=items)  # type: ignore[arg-type]
    if isinstance(condition, Not):
        return Not(_condition_with_text(condition.item, text))  # type: ignore[arg-type]
    return condition


@lru_cache(maxsize=2048)
def parse_soql(text: str) -> Query:
    """Parse one SOQL statement; raises SoqlError (MALFORMED_QUERY) if it is not SOQL."""
    return _parse_uncached(text)
