"""The morning digest: each rep gets one email a day of their reminders due that day and
overdue (docs/design.md §9), from 08:00 in their own time zone.

Every ``interval_seconds`` (a minute) one read of the open reminders due by tomorrow
(UTC's, a superset of every rep's today), grouped by rep; a rep with ``digest=on``, whose
local time is 08:00 or later and who has something due or overdue, gets a digest once
their ``(rep, day)`` row is claimed in the store (``claim_digest``), so one digest per rep
per day across restarts and nodes. A send that fails gives the claim back (the next pass
tries again); a crash between the claim and the send loses that day's digest (at most
once: the reminders themselves are still listed by `relay tasks list`). Without a
smarthost (relay/outbound.py) the loop only waits. A rep with nothing due gets nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from relay.delivery.reps import Reps
from relay.errors import RelayError
from relay.logs import get_logger
from relay.outbound import Outbound
from relay.reps.reminders import zone
from relay.runners.base import PeriodicRunner, store_failed
from relay.store.model import Reminder, Rep, Store
from relay.store.values import OPEN
from relay.store_outage import StoreOutage

log = get_logger("relay.runners.digest")

DIGEST_HOUR = time(8, 0)
INTERVAL_SECONDS = 60.0


def digest_text(rep: Rep, today: date, due: Sequence[Reminder]) -> tuple[str, str]:
    """The subject and text of a rep's digest: one line per reminder with its records,
    overdue ones first."""
    overdue = [r for r in due if r.due < today]
    today_items = [r for r in due if r.due == today]
    subject = f"Relay: {len(today_items)} due today, {len(overdue)} overdue ({today.isoformat()})"
    lines = [f"Your reminders for {today.isoformat()}:", ""]
    for title, items in (("Overdue", overdue), ("Due today", today_items)):
        if not items:
            continue
        lines.append(f"{title}:")
        for r in items:
            records = f"  [records: {', '.join(r.records)}]" if r.records else ""
            mark = " (high)" if r.priority == "high" else ""
            lines.append(f"- {r.due.isoformat()} {r.subject}{mark}{records}")
        lines.append("")
    lines.append("`relay tasks list --user " + rep.email + "` lists them; `relay tasks done ID`")
    lines.append("completes one. `relay settings set --user EMAIL digest off` stops this email.")
    return subject, "\n".join(lines) + "\n"


class DigestRunner(PeriodicRunner):
    name = "digest"

    def __init__(
        self,
        store: Store,
        reps: Reps,
        outbound: Outbound,
        outage: StoreOutage | None = None,
        interval_seconds: float = INTERVAL_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(outage)
        self.store = store
        self.reps = reps
        self.outbound = outbound
        self.interval_seconds = interval_seconds
        self.clock = clock

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.outbound.enabled:
            log.info("digest_off", reason="no smarthost (RELAY_SMARTHOST): no digests are sent")
            await stopping.wait()
            return
        await super().run(stopping)

    async def tick(self, stopping: asyncio.Event) -> float:
        try:
            await asyncio.to_thread(self.send_due)
        except Exception as error:
            backoff = store_failed(self.outage, self.name, error)
            if backoff is None:
                raise
            return backoff
        self.outage.succeeded(self.name)
        return self.interval_seconds

    def send_due(self, now: datetime | None = None) -> int:
        """One pass (blocking): send the digests due at ``now``; return how many were."""
        now = now or self.clock()
        reminders = self.store.list_reminders(
            status=OPEN, due_to=now.astimezone(UTC).date() + timedelta(days=1)
        )
        by_owner: dict[str, list[Reminder]] = {}
        for reminder in reminders:
            by_owner.setdefault(reminder.owner_id, []).append(reminder)
        sent = 0
        for user_id, items in by_owner.items():
            rep = self.reps.directory.rep_by_id(user_id)
            if rep is None or self.reps.settings(rep).digest != "on":
                continue
            local = now.astimezone(zone(rep.time_zone))
            if local.time() < DIGEST_HOUR:
                continue
            today = local.date()
            due = [r for r in items if r.due <= today]
            if not due or not self.store.claim_digest(user_id, today, now):
                continue
            subject, text = digest_text(rep, today, due)
            try:
                self.outbound.send_notice(rep.email, subject, text)
            except RelayError as error:
                self.store.release_digest(user_id, today)
                log.warning("digest_not_sent", user_id=user_id, reason=error.reason)
                continue
            log.info("digest_sent", user_id=user_id, day=today.isoformat(), reminders=len(due))
            sent += 1
        return sent
