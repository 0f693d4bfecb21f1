"""One batch through the delivery steps, in the manner of GNU Mailman's pipeline of
handlers: route, decide, then for the API path one directory lookup, plan, write,
confirm. The per-batch state (what each message was routed to, the records each was
logged to, the outcomes so far) lives in a ``Batch`` made for the batch, never on the
runner.

Per batch: parse and attribute each message (relay/delivery/route.py) and decide by its
rep's sync settings (relay/delivery/decide.py: ``logging=off`` rejects,
``email_to_salesforce`` forwards, an unknown sender is held); then ONE directory lookup
for the rest (cached, plus the thread records from the ledger), match and draft each
(pure, per-rep policy and ``body``), write every draft in calls of 200
(relay/delivery/write.py), then one outcome per message. A write that says a record
changed (deleted, converted lead) makes its messages match again, once, against fresh
records. API_DISABLED_FOR_ORG forwards to Email to Salesforce instead
(relay/delivery/fallback.py). Every outcome comes from relay/delivery/outcomes.py; the
reminders the emails asked for (relay/delivery/reminders.py) ride with the outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from structlog.contextvars import bound_contextvars

from relay.config import Config
from relay.delivery.attachments import upload_attachments
from relay.delivery.confirm import confirm
from relay.delivery.decide import Decider
from relay.delivery.directory import attribution, fetch_directory, with_reps
from relay.delivery.fallback import EmailToSalesforce
from relay.delivery.notices import Notifier
from relay.delivery.org_profile import OrgProfile, OrgProfileCache
from relay.delivery.outcomes import BatchResult, outcome_for_error
from relay.delivery.plan import Planned, plan_message, record_keys
from relay.delivery.policies import Policies
from relay.delivery.reminders import reminders_for
from relay.delivery.reps import Reps
from relay.delivery.route import Route, Routed
from relay.delivery.write import Job, KeyResult, TaskWriter, outcome_after_write
from relay.errors import (
    ApiDisabled,
    NeedsAttention,
    RateLimited,
    RecordChanged,
    RelayError,
    TemporaryError,
)
from relay.logs import get_logger
from relay.matching.drafts import TaskDraft
from relay.matching.model import relay_domain_predicate
from relay.metrics import Metrics
from relay.outbound import Outbound
from relay.privacy import mask_tokens
from relay.reps.snapshot import RepSnapshot
from relay.salesforce.client import SalesforceClient
from relay.salesforce.directory import DirectoryCache
from relay.store.model import Outcome, State, Store, StoredMessage, new_unresolved


@dataclass
class Batch:
    """What one batch has come to so far."""

    result: BatchResult = field(default_factory=BatchResult)
    routed: dict[str, Routed] = field(default_factory=dict)
    """queue id -> its route, for the fallback, the uploads and the confirmations."""
    logged_to: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """queue id -> the records it was logged to, for the confirmations and reminders."""
    drafts: dict[str, tuple[TaskDraft, ...]] = field(default_factory=dict)
    """queue id -> the Tasks written for it (their WhoId and WhatId), for reminders."""


@dataclass
class Prepared:
    """A batch up to its write (``Delivery.prepare``): the outcomes so far and the plans
    still to write. Several can be joined into one (``joined``)."""

    batch: Batch
    planned: list[Planned] = field(default_factory=list)
    profile: OrgProfile | None = None
    count: int = 0
    """Messages in it."""

    def rows(self) -> int:
        """Task drafts still to write."""
        return sum(len(item.drafts) for item in self.planned)


def joined(parts: Sequence[Prepared]) -> Prepared:
    """Prepared slices as one, for one write: their outcomes and plans side by side, the
    latest org profile."""
    whole = Prepared(Batch())
    for part in parts:
        result = whole.batch.result
        result.outcomes.extend(part.batch.result.outcomes)
        result.unresolved_items.extend(part.batch.result.unresolved_items)
        result.pause_seconds = max(result.pause_seconds, part.batch.result.pause_seconds)
        whole.batch.routed.update(part.batch.routed)
        whole.batch.logged_to.update(part.batch.logged_to)
        whole.batch.drafts.update(part.batch.drafts)
        whole.planned.extend(part.planned)
        whole.profile = part.profile or whole.profile
        whole.count += part.count
    return whole


class Delivery:
    """The delivery steps, built once per runner; ``run`` takes one batch through them."""

    def __init__(
        self,
        store: Store,
        config: Config,
        client: SalesforceClient,
        metrics: Metrics | None = None,
        *,
        reps: Reps | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self.store = store
        self.pipeline = config.pipeline
        self.client = client
        self.metrics = metrics
        self.log = get_logger("relay.runners.deliver")
        self.reps = reps or Reps(RepSnapshot.from_store(config, store), config.home)
        outbound = outbound or Outbound(config)
        self.notifier = Notifier(store, outbound, config.pipeline.notice_interval_seconds)
        self.e2s = EmailToSalesforce(store, self.reps, outbound, self.notifier)
        self.is_relay_address = relay_domain_predicate(config.domain)
        self.route = Route(store, self.reps, self.is_relay_address)
        self.decider = Decider(self.reps, self.e2s)
        self.policies = Policies(config)
        self.directory_cache = DirectoryCache(config.pipeline.directory_ttl_seconds)
        self.org = OrgProfileCache(
            client, config.pipeline.external_id_field, config.pipeline.org_profile_ttl_seconds
        )
        self.writer = TaskWriter(store, client, bulk_threshold=config.pipeline.bulk_threshold)

    def warm_up(self) -> None:
        """Read the org profile before the first email, so that email costs only the
        directory lookup and the write. A failure is retried on the first batch."""
        try:
            self.org.get()
        except RelayError as error:
            self.log.warning("org_profile_unavailable", reason=error.reason)

    def run(self, messages: Sequence[StoredMessage]) -> BatchResult:
        """One outcome per message of ``messages`` (blocking)."""
        return self.complete(self.prepare(messages))

    def prepare(self, messages: Sequence[StoredMessage]) -> Prepared:
        """Everything before the write: route and decide each message, then for the API
        path one directory lookup and the plans (blocking). ``complete`` writes them;
        the import lane gathers several prepared slices into one write
        (relay/runners/import_lane.py, docs/design.md §11)."""
        batch = Batch()
        self.reps.refresh_if_changed(self.store)
        api: list[Routed] = []
        for message in messages:
            with bound_contextvars(queue_id=message.id):
                routed = self.route(message)
            if isinstance(routed, Outcome):
                batch.result.outcomes.append(routed)
                continue
            batch.routed[message.id] = routed
            decided = self.decider.decide(routed)
            if decided is None:
                api.append(routed)
            else:
                self._settle(batch, message, decided)
        prepared = Prepared(batch, count=len(messages))
        if api:
            try:
                prepared.profile = self.org.get()
                prepared.planned = self._plan(batch, api)
            except RelayError as error:
                if len(messages) > 1 and not isinstance(error, TemporaryError | NeedsAttention):
                    raise  # the crash path isolates the message that causes it
                for routed in api:
                    self._fail(batch, routed.message, error)
                prepared.planned = []
        return prepared

    def complete(self, prepared: Prepared) -> BatchResult:
        """Write what ``prepare`` planned, then one outcome per message (blocking)."""
        batch = prepared.batch
        if prepared.planned and prepared.profile is not None:
            try:
                self._write(batch, prepared.planned, prepared.profile, rematch=False)
            except RelayError as error:
                if prepared.count > 1 and not isinstance(error, TemporaryError | NeedsAttention):
                    raise  # the crash path isolates the message that causes it
                for item in prepared.planned:
                    self._fail(batch, item.message, error)
        confirm(self.notifier, batch.result.outcomes, batch.routed, batch.logged_to)
        batch.result.reminders = reminders_for(
            batch.result.outcomes,
            batch.routed,
            batch.drafts,
            batch.logged_to,
            self._org_timezone,
            self.is_relay_address,
        )
        if self.metrics is not None:
            for outcome in batch.result.outcomes:
                self.metrics.messages_processed.labels(outcome=outcome.state.value).inc()
        return batch.result

    def _deliver(self, batch: Batch, routed: Sequence[Routed], rematch: bool) -> None:
        """The API path: directory, plan, write (and the one re-match)."""
        profile = self.org.get()
        self._write(batch, self._plan(batch, routed), profile, rematch)

    def _plan(self, batch: Batch, routed: Sequence[Routed]) -> list[Planned]:
        """One directory lookup for ``routed``, then each one's plan; the messages the
        plan settles (nothing to log) get their outcome in ``batch``."""
        profile = self.org.get()
        found = fetch_directory(
            self.store,
            self.client,
            self.directory_cache,
            [r.email for r in routed],
            self.policies.default,
        )
        directory = with_reps(found, self.reps, routed)
        planned: list[Planned] = []
        for item in routed:
            with bound_contextvars(queue_id=item.message.id):
                plan = plan_message(
                    item.message,
                    item.email,
                    directory,
                    self.policies.for_settings(item.settings),
                    org_timezone=profile.timezone,
                    shared_activities=profile.shared_activities,
                    include_body=item.settings.body != "none",
                    upload_limit=(
                        item.settings.attachment_max_bytes
                        if item.settings.attachments == "upload"
                        else None
                    ),
                    vouched=item.vouched,
                    attribution=attribution(self.reps, item),
                )
            if isinstance(plan, Outcome):
                batch.result.outcomes.append(plan)
            else:
                planned.append(plan)
        return planned

    def _write(
        self, batch: Batch, planned: list[Planned], profile: OrgProfile, rematch: bool
    ) -> None:
        jobs = [Job(p.message.id, p.email.message_key, p.drafts) for p in planned]
        results = self.writer.write(jobs, profile.external_id_field)
        if self.metrics is not None:
            self.metrics.tasks_written.inc(
                sum(1 for r in results.values() if r.task_id and not r.already)
            )
        changed: list[Planned] = []
        for item in planned:
            outcome = outcome_after_write(item, results)
            if isinstance(outcome, RecordChanged) and not rematch:
                changed.append(item)
            elif isinstance(outcome, RelayError):
                self._fail(batch, item.message, outcome)
            else:
                batch.result.outcomes.append(outcome)
                records = (r for d in item.drafts for r in d.record_ids)
                batch.logged_to[item.message.id] = tuple(dict.fromkeys(records))
                batch.drafts[item.message.id] = item.drafts
                if outcome.state is State.UNRESOLVED:
                    task_id = results[item.drafts[0].relay_key].task_id
                    self._add_unresolved(batch, item, task_id)
                self._upload(batch, item, results)
        if changed:
            self.log.info("records_changed_rematching", messages=len(changed))
            self.directory_cache.invalidate(record_keys(changed))
            self._deliver(batch, [batch.routed[p.message.id] for p in changed], rematch=True)

    def _upload(self, batch: Batch, item: Planned, results: dict[str, KeyResult]) -> None:
        settings = batch.routed[item.message.id].settings
        if settings.attachments != "upload" or not item.email.attachments:
            return
        new = [results[d.relay_key] for d in item.drafts if d.relay_key in results]
        task_ids = [r.task_id for r in new if r.task_id and not r.already]
        raw = self.store.raw(item.message.id)
        max_bytes = settings.attachment_max_bytes
        upload_attachments(
            self.client, raw, task_ids, max_bytes, item.message.id, self.is_relay_address
        )

    def _org_timezone(self) -> str | None:
        """The org's time zone for a reminder whose rep has none; None (UTC) when the
        org profile cannot be read now: the reminder is not worth failing the batch."""
        try:
            return self.org.get().timezone
        except RelayError as error:
            self.log.warning("org_profile_unavailable", reason=error.reason)
            return None

    def _settle(self, batch: Batch, message: StoredMessage, decided: Outcome | RelayError) -> None:
        if isinstance(decided, RelayError):
            self._fail(batch, message, decided)
        else:
            batch.result.outcomes.append(decided)

    def _fail(self, batch: Batch, message: StoredMessage, error: RelayError) -> None:
        if isinstance(error, ApiDisabled) and message.id in batch.routed:
            # An org without API access gets the email through Email to Salesforce.
            fallback = self.decider.after_api_disabled(batch.routed[message.id])
            if not isinstance(fallback, ApiDisabled):
                self._settle(batch, message, fallback)
                return
        batch.result.outcomes.append(
            outcome_for_error(message.id, message.attempts, error, self.pipeline)
        )
        if isinstance(error, RateLimited):
            # Writes pause (the runner stops claiming); SMTP keeps accepting.
            pause = self.pipeline.rate_limit_pause_seconds
            batch.result.pause_seconds = max(batch.result.pause_seconds, pause)

    def _add_unresolved(self, batch: Batch, item: Planned, task_id: str | None) -> None:
        email = item.email
        batch.result.unresolved_items.append(
            new_unresolved(
                queue_id=item.message.id,
                message_key=email.message_key,
                relay_key=item.drafts[0].relay_key,
                task_id=task_id,
                owner_id=item.drafts[0].owner_id,
                subject=email.subject,
                mail_from=email.from_.email if email.from_ else item.message.envelope.mail_from,
                reason=mask_tokens("; ".join(item.plan.trace[-3:])),
            )
        )
