"""Resolving field paths (``Email``, ``Account.Owner.Email``, ``Who.Name``) against the
catalog, and reading their values from rows by following parent relationships."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from relay.localorg.soql.ast import FieldPath
from relay.localorg.soql.catalog import FieldInfo, Relationship, SoqlCatalog
from relay.localorg.soql.errors import (
    INVALID_FIELD,
    SoqlError,
    error_at,
    no_such_column,
    unknown_relationship,
    unknown_sobject,
)

Row = Mapping[str, Any]
T = TypeVar("T")

# Every sObject has Id; the catalog may leave it out of its field list.
_ID_FIELD = FieldInfo("Id", "id")

STRING_TYPES = frozenset(
    {"string", "email", "phone", "url", "textarea", "picklist", "combobox", "multipicklist"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})


@dataclass(frozen=True)
class ResolvedField:
    """A field path bound to the catalog: the relationships to follow, then the field.
    ``objects`` are the sObjects the leaf may live on (several after a polymorphic hop)."""

    path: FieldPath
    hops: tuple[Relationship, ...]
    info: FieldInfo
    objects: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def type(self) -> str:
        return self.info.type


def resolve_sobject(catalog: SoqlCatalog, name: str, text: str, pos: tuple[int, int]) -> str:
    canonical = catalog.object_name(name)
    if canonical is None:
        raise unknown_sobject(text, pos, name)
    return canonical


def resolve_field(catalog: SoqlCatalog, sobject: str, path: FieldPath, text: str) -> ResolvedField:
    """Bind ``path`` to fields of ``sobject``; raises INVALID_FIELD naming the bad part."""
    parts = path.parts
    # `SELECT Contact.Email FROM Contact` may qualify a field with the object's own name
    # (SOQL and SOSL Reference, "Relationship Queries"), unless that is a relationship.
    if (
        len(parts) > 1
        and parts[0].lower() == sobject.lower()
        and catalog.relationship(sobject, parts[0]) is None
    ):
        parts = parts[1:]
    objects: tuple[str, ...] = (sobject,)
    hops: list[Relationship] = []
    for name in parts[:-1]:
        relationship = _first(catalog.relationship(obj, name) for obj in objects)
        if relationship is None:
            raise unknown_relationship(text, path.pos, name)
        hops.append(relationship)
        objects = relationship.targets
    leaf = parts[-1]
    info = _first(catalog.field(obj, leaf) for obj in objects)
    if info is None and leaf.lower() == "id":
        info = _ID_FIELD
    if info is None:
        raise no_such_column(text, path.pos, leaf, objects[0])
    return ResolvedField(path, tuple(hops), info, objects)


def _first(candidates: Iterable[T | None]) -> T | None:
    for candidate in candidates:
        if candidate is not None:
            return candidate
    return None


def parent_row(catalog: SoqlCatalog, row: Row, hop: Relationship) -> tuple[str, Row] | None:
    """The parent a relationship points at, with its sObject name, or None when the
    foreign key is null or names a record that does not exist."""
    parent_id = row.get(hop.foreign_key)
    if parent_id is None:
        return None
    if len(hop.targets) == 1:
        target: str | None = hop.targets[0]
    else:
        # Polymorphic (Who, What, Owner): the id's key prefix names the object.
        target = catalog.object_for_id(parent_id)
        if target not in hop.targets:
            return None
    assert target is not None
    parent = catalog.get(target, parent_id)
    return None if parent is None else (target, parent)


def value_of(catalog: SoqlCatalog, row: Row, field: ResolvedField) -> Any:
    """The value of ``field`` for ``row``; None when any parent on the way is null."""
    current: Row = row
    for hop in field.hops:
        found = parent_row(catalog, current, hop)
        if found is None:
            return None
        current = found[1]
    return current.get(field.info.name)


def require_filterable(field: ResolvedField, text: str) -> None:
    if not field.info.filterable:
        # Wording from real org responses (INVALID_FIELD), e.g. for long text areas.
        raise _field_error(text, field, f"field '{field.name}' can not be filtered in a query call")


def require_sortable(field: ResolvedField, text: str) -> None:
    if not field.info.sortable:
        raise _field_error(text, field, f"field '{field.name}' can not be sorted in a query call")


def _field_error(text: str, field: ResolvedField, detail: str) -> SoqlError:
    return error_at(INVALID_FIELD, text, field.path.pos, detail)
