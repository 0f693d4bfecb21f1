"""The org's data as the SOQL evaluator sees it (the ``SoqlCatalog`` protocol).

Rows are the stored rows themselves (never copied, never mutated by the evaluator).
The ``equals`` hint narrows the scan through the store's in-memory indexes when the
field has one; otherwise every row of the object is returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from relay.localorg.ids import normalize_id
from relay.localorg.ids import object_for_id as _object_for_id
from relay.localorg.records import Row
from relay.localorg.soql.catalog import FieldInfo, Relationship

if TYPE_CHECKING:
    from relay.localorg.data import OrgData

# Describe types the evaluator does not know are text to it.
_SOQL_TYPES = {"combobox": "string"}


class OrgCatalog:
    """``SoqlCatalog`` over an ``OrgData``."""

    def __init__(self, org: OrgData) -> None:
        self._org = org

    def object_name(self, name: str) -> str | None:
        return self._org.object_name(name)

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        obj = self._org.schema[sobject]
        fd = obj.field(name)
        if fd is None or fd.write_only or fd.name in self._org.hidden_fields(obj):
            return None
        return FieldInfo(
            fd.name,
            _SOQL_TYPES.get(fd.type, fd.type),
            filterable=fd.filterable,
            sortable=fd.sortable,
            case_sensitive=fd.case_sensitive,
        )

    def relationship(self, sobject: str, name: str) -> Relationship | None:
        fd = self._org.schema[sobject].by_relationship.get(name.lower())
        if fd is None or fd.relationship_name is None:
            return None
        return Relationship(fd.relationship_name, fd.name, fd.reference_to)

    def rows(
        self,
        sobject: str,
        include_deleted: bool,
        equals: Mapping[str, Iterable[Any]] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        """query() sees live rows; queryAll() also the Recycle Bin's and archived
        activities (SOAP API Developer Guide, queryAll(); "Archived Activities": query()
        "automatically filters out all records where isArchived is set to true"). The
        data layer purges expired rows before a queryAll runs."""
        candidates = self._candidates(sobject, equals or {})
        if include_deleted:
            return list(candidates)
        return [r for r in candidates if not r["IsDeleted"] and not r.get("IsArchived")]

    def _candidates(self, sobject: str, equals: Mapping[str, Iterable[Any]]) -> Iterable[Row]:
        store = self._org.store
        for field, values in equals.items():
            fd = self._org.schema[sobject].field(field)
            if fd is None:
                continue
            if fd.name == "Id":
                ids = {normalize_id(v) for v in values}
                found = (store.get(sobject, i) for i in sorted(i for i in ids if i))
                return [r for r in found if r is not None]
            if store.is_indexed(sobject, fd.name):
                seen: dict[str, Row] = {}
                for value in values:
                    if fd.type == "reference" and isinstance(value, str):
                        value = normalize_id(value) or value
                    for row in store.lookup(sobject, fd.name, value):
                        seen[row["Id"]] = row
                return [seen[i] for i in sorted(seen)]
        return store.all(sobject)

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        canonical = normalize_id(record_id)
        return self._org.store.get(sobject, canonical) if canonical else None

    def object_for_id(self, record_id: str) -> str | None:
        name = _object_for_id(record_id)
        return name if name is not None and self._org.object_name(name) else None
