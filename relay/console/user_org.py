"""The org as the signed-in User sees it: their own access token from the web flow,
so a search or a lookup shows what Salesforce's sharing lets THEM see (the console never
uses the integration user's wider access on a rep's behalf).

Blocking (simple-salesforce over requests): callers run it with ``Console.run``.
"""

from __future__ import annotations

from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from relay.config import SalesforceConfig
from relay.console.oauth import SignedInUser
from relay.salesforce.client import build_http_session

SEARCHABLE = ("Contact", "Lead", "Opportunity")
KEY_PREFIXES = {"003": "Contact", "00Q": "Lead", "006": "Opportunity"}
NAMED_PREFIXES = {**KEY_PREFIXES, "001": "Account"}


class UserOrg:
    def __init__(self, config: SalesforceConfig, user: SignedInUser) -> None:
        self._http = build_http_session(config, pool_size=2)
        self._sf = Salesforce(
            instance_url=user.instance_url,
            session_id=user.access_token,
            session=self._http,
            version=config.api_version,
        )

    def close(self) -> None:
        self._http.close()

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self._sf.query_all(soql)["records"]
        return records

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        getattr(self._sf, sobject).update(record_id, values)

    def delete(self, sobject: str, record_id: str) -> None:
        getattr(self._sf, sobject).delete(record_id)

    def search(self, text: str, limit: int = 20) -> list[dict[str, str]]:
        """Contacts, Leads and Opportunities whose name (or email) contains ``text``."""
        like = f"%{text}%"
        found: list[dict[str, str]] = []
        queries = {
            "Contact": format_soql(
                "SELECT Id, Name, Email FROM Contact WHERE Name LIKE {} OR Email LIKE {} "
                "ORDER BY Name LIMIT {}", like, like, limit,
            ),
            "Lead": format_soql(
                "SELECT Id, Name, Email FROM Lead WHERE (Name LIKE {} OR Email LIKE {}) "
                "AND IsConverted = false ORDER BY Name LIMIT {}", like, like, limit,
            ),
            "Opportunity": format_soql(
                "SELECT Id, Name FROM Opportunity WHERE Name LIKE {} ORDER BY Name LIMIT {}",
                like, limit,
            ),
        }  # fmt: skip
        for sobject, soql in queries.items():
            for record in self.query_all(soql):
                found.append(
                    {
                        "id": str(record["Id"]),
                        "type": sobject,
                        "name": str(record.get("Name") or ""),
                        "email": str(record.get("Email") or ""),
                    }
                )
        return found

    def record_names(self, record_ids: list[str]) -> dict[str, str]:
        """Id -> Name of the records this User can see, one query per object."""
        by_object: dict[str, list[str]] = {}
        for record_id in dict.fromkeys(record_ids):
            sobject = NAMED_PREFIXES.get(record_id[:3])
            if sobject is not None:
                by_object.setdefault(sobject, []).append(record_id)
        names: dict[str, str] = {}
        for sobject, ids in by_object.items():
            for start in range(0, len(ids), 200):  # keeps the GET URL short
                soql = format_soql(
                    f"SELECT Id, Name FROM {sobject} WHERE Id IN {{}}",  # noqa: S608
                    ids[start : start + 200],
                )
                for record in self.query_all(soql):
                    names[str(record["Id"])] = str(record.get("Name") or "")
        return names

    def record_type(self, record_id: str) -> str | None:
        """The object of a Contact, Lead or Opportunity id this User can see, else None.
        The key prefix names the object (Object Reference, "Entity Key Prefixes")."""
        sobject = KEY_PREFIXES.get(record_id[:3])
        if sobject is None or len(record_id) not in (15, 18) or not record_id.isalnum():
            return None
        soql = format_soql(f"SELECT Id FROM {sobject} WHERE Id = {{}}", record_id)  # noqa: S608
        return sobject if self.query_all(soql) else None
