"""What the SOQL evaluator needs from the org's data: the seam between the two.

The local org's data layer implements ``SoqlCatalog``; the evaluator depends on nothing
else. Names are matched case-insensitively, as Salesforce does for object, field and
relationship names (SOQL and SOSL Reference, "SOQL SELECT Syntax").

Row values are JSON-ready, exactly as the REST API returns them: ``str`` for text, ids,
picklists, dates (``YYYY-MM-DD``) and datetimes (``YYYY-MM-DDTHH:MM:SS.000+0000``);
``bool``; ``int``/``float`` for numbers; ``None`` for null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FieldInfo:
    """One field of an sObject, with its canonical API name and SOAP/describe type:
    ``id``, ``reference``, ``string``, ``email``, ``phone``, ``url``, ``textarea``,
    ``picklist``, ``boolean``, ``int``, ``double``, ``currency``, ``percent``, ``date``,
    ``datetime``. ``case_sensitive`` marks text fields such as a case-sensitive external id,
    on which =, !=, IN, <, > compare exactly ("fieldExpression Syntax": "Operators are
    case insensitive for most fields, but case sensitive for case-sensitive fields")."""

    name: str
    type: str
    filterable: bool = True
    sortable: bool = True
    case_sensitive: bool = False


@dataclass(frozen=True)
class Relationship:
    """A parent relationship: ``Contact.Account`` is Relationship("Account", "AccountId",
    ("Account",)). Polymorphic ones (``Task.Who``, ``Task.What``, ``Owner``) list every
    possible target; the evaluator picks the one the id's key prefix names."""

    name: str
    foreign_key: str
    targets: tuple[str, ...]


class SoqlCatalog(Protocol):
    def object_name(self, name: str) -> str | None:
        """The canonical sObject name for ``name`` (any case), or None if unknown."""

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        """The field ``name`` (any case) of a canonical sObject, or None if it has none."""

    def relationship(self, sobject: str, name: str) -> Relationship | None:
        """The parent relationship ``name`` (any case) of a canonical sObject, or None."""

    def rows(
        self,
        sobject: str,
        include_deleted: bool,
        equals: Mapping[str, Iterable[Any]] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        """Every row of ``sobject`` (soft-deleted ones only if include_deleted), keyed by
        canonical field names. ``equals`` is a hint: field -> values that a row must match
        (strings compared case-insensitively) for the query to select it. A catalog may
        use it to narrow the scan through an index, and may ignore it; the evaluator
        still applies the full WHERE to whatever comes back."""

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One row by its 18-character id (soft-deleted included), or None."""

    def object_for_id(self, record_id: str) -> str | None:
        """The sObject whose key prefix begins ``record_id`` (for polymorphic lookups)."""
