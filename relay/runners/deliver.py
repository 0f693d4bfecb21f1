"""The delivery stage: parse, match and log a batch of messages as Tasks (issue 5).

Per batch: parse each message (pure), ONE directory lookup for the whole batch (cached,
plus the thread records from the ledger), match and draft each (pure), write every
draft in calls of 200 (relay/runners/writer.py), then one outcome per message. A write
that says a record changed (deleted, converted lead) makes its messages match again,
once, against fresh records. Errors map to outcomes in relay/runners/policy.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from structlog.contextvars import bound_contextvars

from relay.config import Config
from relay.errors import NeedsAttention, RateLimited, RecordChanged, RelayError, TemporaryError
from relay.matching import Directory, MatchPolicy, RecordRef
from relay.matching.model import object_for_id, relay_domain_predicate
from relay.metrics import Metrics
from relay.parsing import Email, parse
from relay.runners.base import BatchResult, BatchRunner
from relay.runners.org_profile import OrgProfile, OrgProfileCache
from relay.runners.plan import Planned, lookup_keys, outcome_after_write, plan_message, record_keys
from relay.runners.policy import outcome_for_error
from relay.runners.writer import Job, TaskWriter
from relay.salesforce.client import SalesforceClient
from relay.salesforce.directory import DirectoryCache
from relay.store.model import Outcome, State, Store, StoredMessage, new_unresolved


class DeliveryRunner(BatchRunner):
    name = "deliver"

    def __init__(
        self, store: Store, config: Config, client: SalesforceClient, metrics: Metrics | None = None
    ) -> None:
        super().__init__(store, config.pipeline)
        self.client = client
        self.metrics = metrics
        self.policy = MatchPolicy.from_config(config)
        self.is_relay_address = relay_domain_predicate(config.domain)
        self.directory_cache = DirectoryCache(config.pipeline.directory_ttl_seconds)
        self.org = OrgProfileCache(
            client, config.pipeline.external_id_field, config.pipeline.org_profile_ttl_seconds
        )
        self.writer = TaskWriter(store, client)

    def warm_up(self) -> None:
        """Read the org profile before the first email, so that email costs only the
        directory lookup and the write. A failure is retried on the first batch."""
        try:
            self.org.get()
        except RelayError as error:
            self.log.warning("org_profile_unavailable", reason=error.reason)

    def batch_window(self) -> float:
        pressure = self.client.budget.pressure()
        if pressure >= 1.0:
            return self.pipeline.rate_limit_pause_seconds  # over budget: stop writing
        return self.pipeline.max_batch_window_seconds * pressure if pressure > 0.5 else 0.0

    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        result = BatchResult()
        parsed: list[tuple[StoredMessage, Email]] = []
        for message in batch:
            with bound_contextvars(queue_id=message.id):
                email = parse(
                    self.store.raw(message.id),
                    message.envelope,
                    message.received_at,
                    relay_addresses=self.is_relay_address,
                )
            if email.unparseable:
                reason = f"cannot be parsed: {email.unparseable}"
                result.outcomes.append(Outcome(message.id, State.QUARANTINED, reason))
            else:
                parsed.append((message, email))
        if parsed:
            try:
                self._deliver(parsed, result, rematch=False)
            except RelayError as error:
                if len(batch) > 1 and not isinstance(error, TemporaryError | NeedsAttention):
                    raise  # the crash path isolates the message that causes it
                for message, _ in parsed:
                    self._fail(message, error, result)
        if self.metrics is not None:
            for outcome in result.outcomes:
                self.metrics.messages_processed.labels(outcome=outcome.state.value).inc()
        return result

    def _deliver(
        self, parsed: Sequence[tuple[StoredMessage, Email]], result: BatchResult, rematch: bool
    ) -> None:
        profile = self.org.get()
        directory = self._directory([email for _, email in parsed])
        planned: list[Planned] = []
        for message, email in parsed:
            with bound_contextvars(queue_id=message.id):
                item = plan_message(
                    message,
                    email,
                    directory,
                    self.policy,
                    org_timezone=profile.timezone,
                    shared_activities=profile.shared_activities,
                )
            if isinstance(item, Outcome):
                result.outcomes.append(item)
            else:
                planned.append(item)
        self._write(planned, profile, result, rematch)

    def _write(
        self, planned: list[Planned], profile: OrgProfile, result: BatchResult, rematch: bool
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
                self._fail(item.message, outcome, result)
            else:
                result.outcomes.append(outcome)
                if outcome.state is State.UNRESOLVED:
                    self._add_unresolved(item, results[item.drafts[0].relay_key].task_id, result)
        if changed:
            self.log.info("records_changed_rematching", messages=len(changed))
            self.directory_cache.invalidate(record_keys(changed))
            self._deliver([(p.message, p.email) for p in changed], result, rematch=True)

    def _directory(self, emails: Sequence[Email]) -> Directory:
        keys = [lookup_keys(email, self.policy) for email in emails]
        thread_ids = {t for k in keys for t in k.thread_ids}
        threads = self.store.known_threads(thread_ids) if thread_ids else {}
        known = {
            message_key: [RecordRef(r, object_for_id(r) or "Unknown") for r in records]
            for message_key, records in threads.items()
        }
        return self.directory_cache.fetch(
            self.client,
            sorted({a for k in keys for a in k.addresses}),
            record_ids=sorted({r for k in keys for r in k.record_ids}),
            sender_addresses=sorted({s for k in keys for s in k.senders}),
            extra_email_fields=self.policy.extra_email_fields,
            known_threads=known,
        )

    def _fail(self, message: StoredMessage, error: RelayError, result: BatchResult) -> None:
        outcome = outcome_for_error(message.id, message.attempts, error, self.pipeline)
        result.outcomes.append(outcome)
        if isinstance(error, RateLimited):
            # Writes pause (the runner stops claiming); SMTP keeps accepting.
            pause = self.pipeline.rate_limit_pause_seconds
            result.pause_seconds = max(result.pause_seconds, pause)

    def _add_unresolved(self, item: Planned, task_id: str | None, result: BatchResult) -> None:
        email = item.email
        result.unresolved_items.append(
            new_unresolved(
                queue_id=item.message.id,
                message_key=email.message_key,
                relay_key=item.drafts[0].relay_key,
                task_id=task_id,
                owner_id=item.drafts[0].owner_id,
                subject=email.subject,
                mail_from=email.from_.email if email.from_ else item.message.envelope.mail_from,
                reason="; ".join(item.plan.trace[-3:]),
            )
        )
