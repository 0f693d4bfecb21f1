"""The local org's API errors, in Salesforce's shapes.

REST API Developer Guide, "Status Codes and Error Responses": an error body is a JSON
array of ``{"message", "errorCode"}`` objects; errors about record data add ``fields``
(the example there for a bad field value shows ``"fields": ["Name"]``). Collections
(``composite/sobjects``) report per-record errors as ``{"statusCode", "message",
"fields"}`` (REST API Developer Guide, "sObject Collections").
"""

from __future__ import annotations

from typing import Any


class SalesforceApiError(Exception):
    """One error the REST API reports, with the HTTP status it answers with."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The REST error body. ``fields`` appears only for errors about record data."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = list(self.fields)
        return [entry]

    def collection_error(self) -> dict[str, Any]:
        """The per-record error of an sObject Collections result (fields always present)."""
        return {
            "statusCode": self.error_code,
            "message": self.message,
            "fields": list(self.fields or []),
        }

    def __repr__(self) -> str:
        return f"SalesforceApiError({self.status}, {self.error_code!r}, {self.message!r})"


def data_error(
    error_code: str, message: str, fields: list[str] | None = None
) -> SalesforceApiError:
    """A 400 about record data: the fields it names are always listed (possibly empty)."""
    return SalesforceApiError(400, error_code, message, list(fields or []))


def not_found() -> SalesforceApiError:
    """REST API Developer Guide, "Status Codes and Error Responses": 404 NOT_FOUND."""
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
