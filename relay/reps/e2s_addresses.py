"""Reps' Email-to-Salesforce addresses: where the fallback (relay/delivery/fallback.py)
forwards a rep's email.

Salesforce keeps a rep's "Email to Salesforce address" as an ``EmailServicesAddress``
whose function is ``EmailToSalesforce`` and whose ``RunAsUserId`` is the rep (Object
Reference: EmailServicesAddress, EmailServicesFunction). The address is
``LocalPart@EmailDomainName``. An admin override (the ``e2s_address`` sync setting) wins.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from simple_salesforce.format import format_soql

E2S_FUNCTION = "EmailToSalesforce"
_CHUNK = 200  # ids per query: keeps the GET URL far below its ~16 KB limit


class QueryClient(Protocol):
    def query_all(self, soql: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class E2sAddresses:
    """What the org says: each rep's active address, and whether the function is active
    (None when the org has no EmailToSalesforce function at all)."""

    by_user: Mapping[str, str]
    function_active: bool | None

    def address_for(self, user_id: str, override: str = "") -> str | None:
        """The admin override, else the org's address, else None (hold and tell)."""
        return override or self.by_user.get(user_id)


def find_e2s_addresses(client: QueryClient, user_ids: Collection[str]) -> E2sAddresses:
    """Two queries at most per 200 reps: the function's switch, then the addresses."""
    functions = client.query_all(
        format_soql(
            "SELECT Id, IsActive FROM EmailServicesFunction WHERE FunctionName = {}",
            E2S_FUNCTION,
        )
    )
    active = None if not functions else any(bool(f.get("IsActive")) for f in functions)
    found: dict[str, str] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), _CHUNK):
        records = client.query_all(
            format_soql(
                "SELECT RunAsUserId, LocalPart, EmailDomainName FROM EmailServicesAddress "
                "WHERE Function.FunctionName = {} AND IsActive = true AND RunAsUserId IN {}",
                E2S_FUNCTION,
                ids[start : start + _CHUNK],
            )
        )
        for record in records:
            if record.get("LocalPart") and record.get("EmailDomainName"):
                found[str(record["RunAsUserId"])] = (
                    f"{record['LocalPart']}@{record['EmailDomainName']}"
                )
    return E2sAddresses(found, active)
