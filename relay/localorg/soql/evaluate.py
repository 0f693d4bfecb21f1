"""``run_query``: evaluate a parsed SOQL query against a SoqlCatalog.

Records come back in the REST API's JSON shape (REST API Developer Guide, "Execute a SOQL
Query"): each has ``attributes`` (type and url), then the selected fields in SELECT order
with canonical names; a parent relationship is a nested record with its own attributes,
or null when the foreign key is null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from relay.localorg.soql.ast import (
    And,
    Comparison,
    Condition,
    CountAll,
    InList,
    Literal,
    NullLit,
    Query,
    SemiJoin,
)
from relay.localorg.soql.catalog import Relationship, SoqlCatalog
from relay.localorg.soql.errors import (
    INVALID_FIELD,
    MALFORMED_QUERY,
    NUMBER_OUTSIDE_VALID_RANGE,
    error_at,
)
from relay.localorg.soql.parser import parse_soql
from relay.localorg.soql.predicates import (
    LiteralChecker,
    Predicate,
    combine,
    compile_comparison,
    compile_in,
)
from relay.localorg.soql.resolve import (
    ID_TYPES,
    ResolvedField,
    Row,
    parent_row,
    require_filterable,
    require_sortable,
    resolve_field,
    resolve_sobject,
    value_of,
)
from relay.localorg.soql.sorting import sort_rows

DEFAULT_API_VERSION = "62.0"
# SOQL and SOSL Reference, "OFFSET": "The maximum offset is 2,000 rows."
MAX_OFFSET = 2000
_HINT_TYPES = ID_TYPES | {"string", "email", "phone", "url", "picklist", "boolean"}


@dataclass(frozen=True)
class QueryResult:
    """What the query selected: ``total_size`` rows, and the records (empty for COUNT())."""

    total_size: int
    records: list[dict[str, Any]]


@dataclass
class _Shape:
    """The SELECT list as a tree: leaf keys, and nested shapes for relationships."""

    leaves: dict[str, str] = field(default_factory=dict)  # output key -> field name
    children: dict[str, tuple[Relationship, _Shape]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    # base64 fields: a query returns the URL of the blob, not its bytes (REST API
    # Developer Guide, "Get Blob Data": "ContentVersion ... VersionData" is a URL).
    blobs: set[str] = field(default_factory=set)


class _Evaluator:
    def __init__(
        self,
        catalog: SoqlCatalog,
        include_deleted: bool,
        now: datetime,
        api_version: str,
    ) -> None:
        self.catalog = catalog
        self.include_deleted = include_deleted
        self.today: date = now.astimezone(UTC).date()
        self.api_version = api_version
        # Each semi-join's subquery runs once, whether for the hint or the predicate.
        self._joins: dict[int, frozenset[Any]] = {}

    def run(self, query: Query) -> QueryResult:
        sobject = resolve_sobject(self.catalog, query.sobject, query.text, query.sobject_pos)
        shape = None
        if not isinstance(query.select, CountAll):
            shape = self._shape(sobject, query)
        if query.offset is not None and query.offset > MAX_OFFSET:
            assert query.offset_pos is not None
            raise error_at(
                NUMBER_OUTSIDE_VALID_RANGE,
                query.text,
                query.offset_pos,
                f"Maximum SOQL offset allowed is {MAX_OFFSET}",
            )
        rows = self._select(sobject, query)
        if shape is None:
            return QueryResult(total_size=len(rows), records=[])
        return QueryResult(
            total_size=len(rows), records=[self._render(sobject, row, shape) for row in rows]
        )

    def _select(self, sobject: str, query: Query) -> list[Row]:
        """The rows the WHERE selects, in ORDER BY order, after OFFSET and LIMIT."""
        predicate: Predicate | None = None
        hints: dict[str, list[Any]] = {}
        if query.where is not None:
            predicate = combine(query.where, lambda leaf: self._leaf(sobject, query, leaf))
            hints = self._hints(sobject, query, query.where)
        candidates: Iterable[Row] = self.catalog.rows(sobject, self.include_deleted, hints or None)
        rows = [row for row in candidates if predicate is None or predicate(row)]
        if query.order_by:
            keys = []
            for item in query.order_by:
                resolved = resolve_field(self.catalog, sobject, item.field, query.text)
                require_sortable(resolved, query.text)
                keys.append((self._getter(resolved), resolved.type, item))
            rows = sort_rows(rows, keys)
        start = query.offset or 0
        end = None if query.limit is None else start + query.limit
        return rows[start:end]

    def _getter(self, resolved: ResolvedField) -> Any:
        catalog = self.catalog
        if not resolved.hops:
            name = resolved.name
            return lambda row: row.get(name)
        return lambda row: value_of(catalog, row, resolved)

    def _leaf(self, sobject: str, query: Query, condition: Condition) -> Predicate:
        assert isinstance(condition, Comparison | InList | SemiJoin)
        resolved = resolve_field(self.catalog, sobject, condition.field, query.text)
        require_filterable(resolved, query.text)
        getter = self._getter(resolved)
        checker = LiteralChecker(resolved, query.text, self.today)
        if isinstance(condition, Comparison):
            return compile_comparison(getter, checker, condition)
        if isinstance(condition, InList):
            return compile_in(getter, checker, condition)
        ids = self._semi_join_ids(resolved, condition, query)
        if condition.negated:
            return lambda row: getter(row) not in ids
        return lambda row: getter(row) in ids

    def _semi_join_ids(self, left: ResolvedField, join: SemiJoin, query: Query) -> frozenset[Any]:
        """The ids a semi-join's subquery selects (SOQL and SOSL Reference, "Semi-Joins
        with IN and Anti-Joins with NOT IN": the left operand and the subquery's one
        field must both be ids or references)."""
        if id(join) not in self._joins:
            self._joins[id(join)] = self._run_semi_join(left, join, query)
        return self._joins[id(join)]

    def _run_semi_join(self, left: ResolvedField, join: SemiJoin, query: Query) -> frozenset[Any]:
        sub = join.subquery
        if left.type not in ID_TYPES:
            # Guess at the wording; the rule is the reference's.
            raise error_at(
                INVALID_FIELD,
                query.text,
                join.field.pos,
                f"Field '{left.name}' must be an id or reference field to be used in a "
                "semi join or anti join",
            )
        if isinstance(sub.select, CountAll) or len(sub.select) != 1:
            pos = sub.select.pos if isinstance(sub.select, CountAll) else sub.select[1].pos
            raise error_at(
                MALFORMED_QUERY,
                query.text,
                pos,
                "The inner select field must be a single id or reference field",  # guess
            )
        sub_object = resolve_sobject(self.catalog, sub.sobject, sub.text, sub.sobject_pos)
        inner = resolve_field(self.catalog, sub_object, sub.select[0], sub.text)
        if inner.type not in ID_TYPES:
            raise error_at(
                INVALID_FIELD,
                sub.text,
                sub.select[0].pos,
                f"Field '{inner.name}' must be an id or reference field to be used in a "
                "semi join or anti join",  # guess at the wording
            )
        getter = self._getter(inner)
        values = {getter(row) for row in self._select(sub_object, sub)}
        values.discard(None)
        return frozenset(values)

    def _hints(self, sobject: str, query: Query, where: Condition) -> dict[str, list[Any]]:
        """``field -> values`` for top-level AND-ed ``Field = literal``, ``Field IN (...)``
        and semi-joins on the queried object's own fields, so the catalog can use an index.
        Called after the WHERE compiled, so every literal has already been type-checked."""
        hints: dict[str, list[Any]] = {}
        conditions = where.items if isinstance(where, And) else (where,)
        for condition in conditions:
            literals: tuple[Literal, ...]
            if isinstance(condition, Comparison) and condition.op == "=":
                literals = (condition.value,)
            elif isinstance(condition, InList) and not condition.negated:
                literals = condition.values
            elif isinstance(condition, SemiJoin) and not condition.negated:
                literals = ()
            else:
                continue
            resolved = resolve_field(self.catalog, sobject, condition.field, query.text)
            if resolved.hops or resolved.type not in _HINT_TYPES or resolved.name in hints:
                continue
            if isinstance(condition, SemiJoin):
                hints[resolved.name] = sorted(self._semi_join_ids(resolved, condition, query))
                continue
            if any(isinstance(literal, NullLit) for literal in literals):
                continue
            checker = LiteralChecker(resolved, query.text, self.today)
            values = [checker.key(literal) for literal in literals]
            if resolved.type not in ID_TYPES and resolved.type != "boolean":
                # Hints carry the literal as written; the catalog folds case itself.
                values = [literal.value for literal in literals]  # type: ignore[union-attr]
            hints[resolved.name] = values
        return hints

    def _shape(self, sobject: str, query: Query) -> _Shape:
        assert not isinstance(query.select, CountAll)
        root = _Shape()
        seen: set[tuple[str, ...]] = set()
        for path in query.select:
            resolved = resolve_field(self.catalog, sobject, path, query.text)
            key = (*tuple(hop.name.lower() for hop in resolved.hops), resolved.name.lower())
            if key in seen:
                # Real orgs refuse this; the code is a guess.
                raise error_at(
                    INVALID_FIELD,
                    query.text,
                    path.pos,
                    f"duplicate field selected: {path.text}",
                )
            seen.add(key)
            node = root
            for hop in resolved.hops:
                if hop.name not in node.children:
                    node.children[hop.name] = (hop, _Shape())
                    node.order.append(hop.name)
                node = node.children[hop.name][1]
            node.leaves[resolved.name] = resolved.name
            node.order.append(resolved.name)
            if resolved.info.type == "base64":
                node.blobs.add(resolved.name)
        return root

    def _render(self, sobject: str, row: Row, shape: _Shape) -> dict[str, Any]:
        url = f"/services/data/v{self.api_version}/sobjects/{sobject}/{row.get('Id')}"
        record: dict[str, Any] = {"attributes": {"type": sobject, "url": url}}
        for key in shape.order:
            if key in shape.leaves:
                value = row.get(shape.leaves[key])
                if key in shape.blobs and value is not None:
                    value = f"{url}/{key}"
                record[key] = value
                continue
            hop, child = shape.children[key]
            parent = parent_row(self.catalog, row, hop)
            record[key] = None if parent is None else self._render(parent[0], parent[1], child)
        return record


def run_query(
    query: Query | str,
    catalog: SoqlCatalog,
    *,
    include_deleted: bool,
    now: datetime | None = None,
    api_version: str = DEFAULT_API_VERSION,
) -> QueryResult:
    """Evaluate ``query``; raises SoqlError for names, types or limits Salesforce refuses.

    ``now`` anchors relative date literals (TODAY, LAST_N_DAYS:n ...) and defaults to the
    current UTC time; ``api_version`` ("62.0") goes into each record's attributes.url.
    A string is parsed first (through parse_soql's cache).
    """
    if isinstance(query, str):
        query = parse_soql(query)
    evaluator = _Evaluator(catalog, include_deleted, now or datetime.now(UTC), api_version)
    return evaluator.run(query)
