"""What the runners need to know about the org, read once and cached (two API calls).

- the org's time zone (``Organization.TimeZoneSidKey``): Task.ActivityDate is a date in
  the org's time zone;
- Shared Activities: ``TaskWhoIds`` exists on Task only when it is on (Object
  Reference, Task), so one describe answers it;
- whether Task has the external-id field Relay upserts on (``Relay_Key__c``, shipped in
  deploy/salesforce/). Without it Relay creates Tasks and relies on its intent ledger.

Cached for ``org_profile_ttl_seconds`` (an hour by default): a changed setting is seen
that late. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay.logs import get_logger
from relay.salesforce.client import SalesforceClient

log = get_logger("relay.runners.org")


@dataclass(frozen=True)
class OrgProfile:
    timezone: str
    shared_activities: bool
    external_id_field: str | None
    """The Task field to upsert on, or None: create + reconcile."""


class OrgProfileCache:
    def __init__(self, client: SalesforceClient, wanted_field: str, ttl_seconds: float) -> None:
        self.client = client
        self.wanted_field = wanted_field
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._profile: OrgProfile | None = None
        self._expires = 0.0

    def get(self) -> OrgProfile:
        """The cached profile, read again when stale. Raises RelayError when it must
        be read and cannot be."""
        with self._lock:
            if self._profile is None or time.monotonic() >= self._expires:
                self._profile = self._read()
                self._expires = time.monotonic() + self.ttl_seconds
            return self._profile

    def _read(self) -> OrgProfile:
        rows = self.client.query("SELECT TimeZoneSidKey FROM Organization")["records"]
        timezone = str(rows[0]["TimeZoneSidKey"]) if rows else "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("org_timezone_unknown", timezone=timezone, using="UTC")
            timezone = "UTC"
        fields = {str(f["name"]): f for f in self.client.describe("Task")["fields"]}
        external = self.wanted_field if self.wanted_field in fields else None
        if self.wanted_field and external is None:
            log.warning(
                "task_external_id_missing",
                field=self.wanted_field,
                fix="deploy deploy/salesforce/ (Task.Relay_Key__c) for upserts; until then "
                "Relay creates Tasks and reconciles after a crash with its intent ledger",
            )
        profile = OrgProfile(timezone, "TaskWhoIds" in fields, external)
        log.info(
            "org_profile_read",
            timezone=profile.timezone,
            shared_activities=profile.shared_activities,
            external_id_field=profile.external_id_field,
        )
        return profile
