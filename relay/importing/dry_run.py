"""`relay import --dry-run`: what an import would do, writing nothing.

Each admitted message goes through the delivery steps that need no write: parse,
attribute (``import:EMAIL``, relay/delivery/reps.py), the rep's settings, ONE directory
lookup per batch of the size the workers claim (relay/store/claims.py
``IMPORT_CLAIM_LIMIT``), match and draft (relay/delivery/plan.py). A draft whose relay
key the ledger marks written counts as a duplicate. The directory lookups are real
Salesforce reads (counted); the writes a real run would make are estimated as one
composite call per batch with new Tasks (relay/delivery/write.py writes up to 200
Tasks a call), or, when the new Tasks reach the bulk threshold and the org has the
external-id field, as ``BULK_JOB_CALLS`` per Bulk API 2.0 job of
``RELAY_PIPELINE_IMPORT_BULK_ROWS`` Tasks (the import lane gathers them,
docs/design.md §11), and ``RELATION_JOB_CALLS`` more per job whose Tasks include some
with several Contacts (their other Contacts go in a TaskRelation job). Nothing is
stored, sent or written.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from relay.config import Config
from relay.delivery.directory import fetch_directory
from relay.delivery.org_profile import OrgProfileCache
from relay.delivery.outcomes import Happening
from relay.delivery.plan import Planned, plan_message
from relay.delivery.policies import Policies
from relay.delivery.reps import Reps
from relay.envelope import Envelope
from relay.errors import RelayError
from relay.importing.run import imported_envelope
from relay.logs import get_logger
from relay.matching import MatchPolicy
from relay.matching.model import User, relay_domain_predicate
from relay.parsing import Email, parse
from relay.reps.settings import SyncSettings
from relay.salesforce.client import SalesforceClient
from relay.salesforce.directory import DirectoryCache
from relay.store.claims import IMPORT_CLAIM_LIMIT
from relay.store.model import WRITTEN, Outcome, State, Store, StoredMessage

log = get_logger("relay.importing.dry_run")

WRITE_CALL_TASKS = 200
"""Tasks per composite write call (relay/delivery/write.py)."""
BULK_JOB_CALLS = 6
"""Calls of one Bulk API 2.0 Task job: create, upload, close, a poll or two (paced by
the last job), the successful results (docs/benchmarks.md, "Import through Bulk API
2.0")."""
RELATION_JOB_CALLS = 5
"""Calls of one TaskRelation job: create, upload, close, a poll or two; its results are
read only when a row failed."""


@dataclass
class DryRunReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    """By outcome: logged, duplicate, unresolved, skipped: REASON, failed: REASON..."""
    accounts: Counter[str] = field(default_factory=Counter)
    unmatched_domains: Counter[str] = field(default_factory=Counter)
    lookup_calls: int = 0
    write_calls: int = 0
    tasks: int = 0
    daily_api_max: int | None = None
    """The org's daily API request allocation (``/limits``, DailyApiRequests), when read."""
    daily_api_remaining: int | None = None

    @property
    def api_calls(self) -> int:
        return self.lookup_calls + self.write_calls

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes.most_common()),
            "top_accounts": dict(self.accounts.most_common(top)),
            "unmatched_domains": dict(self.unmatched_domains.most_common(top)),
            "tasks": self.tasks,
            "estimated_api_calls": self.api_calls,
            "lookup_calls": self.lookup_calls,
            "write_calls": self.write_calls,
            "daily_api_max": self.daily_api_max,
            "daily_api_remaining": self.daily_api_remaining,
            "allocation_share": self.allocation_share,
        }

    @property
    def allocation_share(self) -> float | None:
        """The estimated calls as a share of the org's daily allocation (0.01 is 1%)."""
        if not self.daily_api_max:
            return None
        return round(self.api_calls / self.daily_api_max, 6)


class DryRun:
    def __init__(
        self,
        store: Store,
        config: Config,
        client: SalesforceClient,
        reps: Reps,
        user: str,
        only_matched: bool,
    ) -> None:
        self.store = store
        self.client = client
        self.reps = reps
        self.user = user
        self.auth = f"import:{user}"
        self.only_matched = only_matched
        self.is_relay_address = relay_domain_predicate(config.domain)
        self.policies = Policies(config)
        self.cache = DirectoryCache(config.pipeline.directory_ttl_seconds)
        pipeline = config.pipeline
        self.org = OrgProfileCache(
            client, pipeline.external_id_field, pipeline.org_profile_ttl_seconds
        )
        self.pipeline = pipeline
        self._bulk = False
        self.report = DryRunReport()
        self._calls = 0
        self._several = 0
        """New Tasks with several Contacts (a TaskRelation job where they are written)."""
        client.http.hooks["response"].append(self._count_call)

    def _count_call(self, _response: Any, *_args: Any, **_kwargs: Any) -> None:
        self._calls += 1

    def run(self, raws: Iterable[bytes], tick: Callable[[], None] = lambda: None) -> DryRunReport:
        batch: list[bytes] = []
        for raw in raws:
            batch.append(raw)
            if len(batch) >= IMPORT_CLAIM_LIMIT:
                self._batch(batch)
                batch = []
                tick()
        if batch:
            self._batch(batch)
        self.report.lookup_calls = self._calls
        rows = self.pipeline.import_bulk_rows
        if self._bulk and rows >= self.pipeline.bulk_threshold <= self.report.tasks:
            jobs = math.ceil(self.report.tasks / rows)
            relation_jobs = min(jobs, self._several)
            self.report.write_calls = jobs * BULK_JOB_CALLS + relation_jobs * RELATION_JOB_CALLS
        self._read_allocation()
        return self.report

    def _read_allocation(self) -> None:
        """The org's daily API allocation, for the estimate's share of it: every call,
        Bulk API 2.0 ones included, counts against DailyApiRequests (Developer Limits and
        Allocations Quick Reference, "API Request Limits and Allocations"). One call, not
        part of the estimate; without it (an org that refuses /limits) no share is given."""
        try:
            limits = self.client.limits()
        except RelayError as error:
            log.info("dry_run_limits_unread", reason=error.reason)
            return
        daily = limits.get("DailyApiRequests") or {}
        if isinstance(daily.get("Max"), int) and isinstance(daily.get("Remaining"), int):
            self.report.daily_api_max = daily["Max"]
            self.report.daily_api_remaining = daily["Remaining"]

    def _batch(self, raws: Sequence[bytes]) -> None:
        now = datetime.now(UTC)
        api: list[tuple[StoredMessage, Email, SyncSettings, User, bool]] = []
        for n, raw in enumerate(raws):
            envelope = imported_envelope("dry-run", self.user, raw)
            message = _message(f"dry-run-{n}", envelope, now, len(raw))
            email = parse(raw, envelope, now, relay_addresses=self.is_relay_address)
            if email.unparseable:
                self._count(Happening.UNPARSEABLE)
                continue
            rep, inbound = self.reps.attribute(email, self.auth)
            settings = self.reps.settings(rep)
            if self.only_matched:
                settings = replace(settings, unmatched="drop")
            if rep is None:
                self._count(Happening.MACHINE_MAIL if email.machine_reason else None)
                continue
            if settings.logging == "off":
                self._count(Happening.LOGGING_OFF)
                continue
            if settings.needs_e2s_address:
                self._count(Happening.INBOUND_TO_E2S_REP if inbound else Happening.FORWARDED)
                continue
            addresses = self.reps.directory.acceptable_addresses(rep.user_id)
            api.append((message, email, settings, User(rep.user_id, rep.email, addresses), inbound))
        if not api:
            return
        profile = self.org.get()
        self._bulk = profile.external_id_field is not None
        policy = self.policies.default
        directory = fetch_directory(
            self.store, self.client, self.cache, [item[1] for item in api], policy
        )
        users = dict(directory.users_by_email)
        for _m, _e, _s, user, _i in api:
            users.update({address.lower(): user for address in user.addresses})
        directory = replace(directory, users_by_email=users)
        new_tasks = 0
        for message, email, settings, user, inbound in api:
            match_policy: MatchPolicy = self.policies.for_settings(settings)
            planned = plan_message(
                message,
                email,
                directory,
                match_policy,
                org_timezone=profile.timezone,
                shared_activities=profile.shared_activities,
                include_body=settings.body != "none",
                vouched=True,
                attribution=(user, inbound),
            )
            if isinstance(planned, Outcome):
                self._count_outcome(planned, email)
                continue
            new_tasks += self._count_planned(planned)
        self.report.tasks += new_tasks
        self.report.write_calls += math.ceil(new_tasks / WRITE_CALL_TASKS)

    def _count_planned(self, planned: Planned) -> int:
        keys = [draft.relay_key for draft in planned.drafts]
        known = self.store.deliveries_for_keys(keys)
        new = [key for key in keys if not (key in known and known[key].state == WRITTEN)]
        self._several += sum(
            1 for d in planned.drafts if d.relay_key in new and len(d.task_who_ids) > 1
        )
        if not planned.plan.records:
            self.report.outcomes["unresolved"] += 1
            self._unmatched(planned.email)
        elif not new:
            self.report.outcomes["duplicate"] += 1
        else:
            self.report.outcomes["logged"] += 1
            for record in planned.plan.records:
                if record.account_id:
                    self.report.accounts[record.account_id] += 1
        return len(new)

    def _count_outcome(self, outcome: Outcome, email: Email) -> None:
        text = outcome.reason or outcome.state.value
        reason = text.split(" (")[0].split(";")[0].split(":")[0].strip()
        kind = "skipped" if outcome.state is State.REJECTED else "failed"
        self.report.outcomes[f"{kind}: {reason}"] += 1
        if "matched no record" in text:
            self._unmatched(email)

    def _count(self, happening: Happening | None) -> None:
        name = happening.value if happening is not None else "unknown_sender"
        kind = "logged" if happening is Happening.FORWARDED else "skipped"
        self.report.outcomes[f"{kind}: {name}"] += 1

    def _unmatched(self, email: Email) -> None:
        people = [*email.to, *email.cc, *([email.from_] if email.from_ else [])]
        rep_domains = {rep.email.rpartition("@")[2].lower() for rep in self.reps.directory.reps}
        for domain in {
            a.email.rpartition("@")[2].lower()
            for a in people
            if a.email and not self.is_relay_address(a.email)
        } - rep_domains:
            self.report.unmatched_domains[domain] += 1


def _message(queue_id: str, envelope: Envelope, now: datetime, size: int) -> StoredMessage:
    return StoredMessage(
        id=queue_id,
        state=State.PROCESSING,
        received_at=now,
        envelope=envelope,
        message_id=None,
        subject=None,
        size=size,
        attempts=1,
        reason=None,
        not_before=None,
        updated_at=now,
    )
