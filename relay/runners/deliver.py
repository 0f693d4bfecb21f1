"""The delivery stage: parse, match and log a batch of messages as Tasks (issues 5, 6).

Per batch: parse each message (pure) and route it by its rep's sync settings
(relay/runners/routes.py: ``logging=off`` rejects, ``email_to_salesforce`` forwards, an
unknown sender is held); then ONE directory lookup for the rest (cached, plus the
thread records from the ledger), match and draft each (pure, per-rep policy and
``body``), write every draft in calls of 200 (relay/runners/writer.py), then one
outcome per message. A write that says a record changed (deleted, converted lead) makes
its messages match again, once, against fresh records. API_DISABLED_FOR_ORG forwards
to Email to Salesforce instead (relay/runners/fallback.py). Other errors map to outcomes
in relay/runners/policy.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from structlog.contextvars import bound_contextvars

from relay.config import Config
from relay.errors import (
    ApiDisabled,
    NeedsAttention,
    RateLimited,
    RecordChanged,
    RelayError,
    TemporaryError,
)
from relay.matching import Directory, RecordRef
from relay.matching.model import object_for_id
from relay.metrics import Metrics
from relay.outbound import Outbound
from relay.parsing import Email
from relay.privacy import mask_tokens
from relay.runners.attachments import upload_attachments
from relay.runners.base import BatchResult, BatchRunner
from relay.runners.org_profile import OrgProfile, OrgProfileCache
from relay.runners.plan import Planned, lookup_keys, outcome_after_write, plan_message, record_keys
from relay.runners.policy import outcome_for_error
from relay.runners.reps import Reps
from relay.runners.routes import Routed, Router
from relay.runners.writer import Job, KeyResult, TaskWriter
from relay.salesforce.client import SalesforceClient
from relay.salesforce.directory import DirectoryCache
from relay.store.model import Outcome, State, Store, StoredMessage, new_unresolved
from relay.store_outage import StoreOutage


class DeliveryRunner(BatchRunner):
    name = "deliver"

    def __init__(
        self,
        store: Store,
        config: Config,
        client: SalesforceClient,
        metrics: Metrics | None = None,
        *,
        reps: Reps | None = None,
        outbound: Outbound | None = None,
        outage: StoreOutage | None = None,
    ) -> None:
        super().__init__(store, config.pipeline, outage)
        self.client = client
        self.metrics = metrics
        self.router = Router(store, config, reps, outbound)
        self.directory_cache = DirectoryCache(config.pipeline.directory_ttl_seconds)
        self.org = OrgProfileCache(
            client, config.pipeline.external_id_field, config.pipeline.org_profile_ttl_seconds
        )
        self.writer = TaskWriter(store, client)
        self._routed: dict[str, Routed] = {}
        self._logged_to: dict[str, tuple[str, ...]] = {}  # queue id -> records, for confirm

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
        self._routed = {}
        self._logged_to = {}
        api: list[Routed] = []
        for message in batch:
            with bound_contextvars(queue_id=message.id):
                routed = self.router.route(message)
            if isinstance(routed, Outcome):
                result.outcomes.append(routed)
                continue
            self._routed[message.id] = routed
            decided = self.router.decide(routed)
            if decided is None:
                api.append(routed)
            else:
                self._settle(message, decided, result)
        if api:
            try:
                self._deliver(api, result, rematch=False)
            except RelayError as error:
                if len(batch) > 1 and not isinstance(error, TemporaryError | NeedsAttention):
                    raise  # the crash path isolates the message that causes it
                for routed in api:
                    self._fail(routed.message, error, result)
        self.router.confirm(result.outcomes, self._routed, self._logged_to)
        if self.metrics is not None:
            for outcome in result.outcomes:
                self.metrics.messages_processed.labels(outcome=outcome.state.value).inc()
        return result

    def _deliver(self, routed: Sequence[Routed], result: BatchResult, rematch: bool) -> None:
        profile = self.org.get()
        directory = self.router.with_reps(self._directory([r.email for r in routed]), routed)
        planned: list[Planned] = []
        for item in routed:
            with bound_contextvars(queue_id=item.message.id):
                plan = plan_message(
                    item.message,
                    item.email,
                    directory,
                    self.router.policy_for(item.settings),
                    org_timezone=profile.timezone,
                    shared_activities=profile.shared_activities,
                    include_body=item.settings.body != "none",
                    upload_limit=(
                        item.settings.attachment_max_bytes
                        if item.settings.attachments == "upload"
                        else None
                    ),
                    vouched=item.vouched,
                    attribution=self.router.attribution(item),
                )
            if isinstance(plan, Outcome):
                result.outcomes.append(plan)
            else:
                planned.append(plan)
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
                records = (r for d in item.drafts for r in d.record_ids)
                self._logged_to[item.message.id] = tuple(dict.fromkeys(records))
                if outcome.state is State.UNRESOLVED:
                    self._add_unresolved(item, results[item.drafts[0].relay_key].task_id, result)
                self._upload(item, results)
        if changed:
            self.log.info("records_changed_rematching", messages=len(changed))
            self.directory_cache.invalidate(record_keys(changed))
            self._deliver([self._routed[p.message.id] for p in changed], result, rematch=True)

    def _upload(self, item: Planned, results: dict[str, KeyResult]) -> None:
        settings = self._routed[item.message.id].settings
        if settings.attachments != "upload" or not item.email.attachments:
            return
        new = [results[d.relay_key] for d in item.drafts if d.relay_key in results]
        task_ids = [r.task_id for r in new if r.task_id and not r.already]
        raw = self.store.raw(item.message.id)
        max_bytes = settings.attachment_max_bytes
        upload_attachments(
            self.client, raw, task_ids, max_bytes, item.message.id, self.router.is_relay_address
        )

    def _directory(self, emails: Sequence[Email]) -> Directory:
        keys = [lookup_keys(email, self.router.policy) for email in emails]
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
            extra_email_fields=self.router.policy.extra_email_fields,
            known_threads=known,
        )

    def _settle(
        self, message: StoredMessage, decided: Outcome | RelayError, result: BatchResult
    ) -> None:
        if isinstance(decided, RelayError):
            self._fail(message, decided, result)
        else:
            result.outcomes.append(decided)

    def _fail(self, message: StoredMessage, error: RelayError, result: BatchResult) -> None:
        if isinstance(error, ApiDisabled) and message.id in self._routed:
            # An org without API access gets the email through Email to Salesforce.
            fallback = self.router.after_api_disabled(self._routed[message.id])
            if not isinstance(fallback, ApiDisabled):
                self._settle(message, fallback, result)
                return
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
                reason=mask_tokens("; ".join(item.plan.trace[-3:])),
            )
        )
