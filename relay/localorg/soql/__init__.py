"""SOQL for the local org: a lark grammar, an AST of frozen values, and an evaluator.

The local org calls ``parse_soql(text)`` then ``run_query(query, catalog, ...)`` and turns
a ``SoqlError`` into a 400 ``[{"message": e.message, "errorCode": e.error_code}]``.
"""

from relay.localorg.soql.catalog import FieldInfo, Relationship, SoqlCatalog
from relay.localorg.soql.errors import SoqlError
from relay.localorg.soql.evaluate import QueryResult, run_query
from relay.localorg.soql.literals import case_safe_suffix, normalize_id
from relay.localorg.soql.parser import parse_soql

__all__ = [
    "FieldInfo",
    "QueryResult",
    "Relationship",
    "SoqlCatalog",
    "SoqlError",
    "case_safe_suffix",
    "normalize_id",
    "parse_soql",
    "run_query",
]
