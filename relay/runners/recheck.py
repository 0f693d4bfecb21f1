"""Release held messages once their problem is fixed, every
``pipeline.held_recheck_seconds`` (a minute by default). Nothing is lost: a
released message is queued again and processed normally (and held again, with the same
reason and no second notice that day, if it still cannot go).

Only holds whose reason names a fixable problem (relay/delivery/holds.py) are looked at;
the others wait for `relay queue release`. Per pass, at most two API calls, and only
when such holds exist: the Email-to-Salesforce lookup for their reps (which also tells
whether the API answers again). `relay queue retry ID` needs nothing from here: it
queues the message, which is then processed at once. A failing store is reported to the
daemon's ``StoreOutage`` and tried again after its backoff (relay/store_outage.py).
"""

from __future__ import annotations

import asyncio

from relay.delivery.holds import envelope_rep, problem_of
from relay.delivery.reps import Reps
from relay.errors import ApiDisabled, RelayError
from relay.logs import get_logger
from relay.outbound import Outbound
from relay.parsing import parse
from relay.parsing.headers import from_addresses
from relay.reps.e2s_addresses import find_e2s_addresses
from relay.runners.base import PeriodicRunner, store_failed
from relay.salesforce.client import SalesforceClient
from relay.store.errors import InvalidTransition, UnknownMessage
from relay.store.model import Rep, State, Store, StoredMessage
from relay.store_outage import StoreOutage

log = get_logger("relay.runners.recheck")


class HeldRecheckRunner(PeriodicRunner):
    name = "recheck"

    def __init__(
        self,
        store: Store,
        client: SalesforceClient,
        reps: Reps,
        outbound: Outbound,
        interval_seconds: float,
        outage: StoreOutage | None = None,
    ) -> None:
        super().__init__(outage)
        self.store = store
        self.client = client
        self.reps = reps
        self.outbound = outbound
        self.interval_seconds = interval_seconds

    def first_wait(self) -> float:
        return self.interval_seconds

    async def tick(self, stopping: asyncio.Event) -> float:
        wait = self.interval_seconds
        try:
            await asyncio.to_thread(self.recheck_once)
        except Exception as error:
            backoff = store_failed(self.outage, self.name, error)
            if backoff is not None:
                wait = min(wait, backoff)
            elif isinstance(error, RelayError):
                log.warning("recheck_failed", reason=error.reason)
            else:
                raise
        else:
            self.outage.succeeded(self.name)
        return wait

    def recheck_once(self) -> int:
        """Release every held message whose problem is gone; returns how many."""
        waiting = [
            (m, problem)
            for m in self.store.list([State.HELD])
            if (problem := problem_of(m.reason)) is not None
        ]
        if not waiting:
            return 0
        self.reps.refresh(self.store)
        api_works = self._look_up([self._rep(m) for m, _ in waiting])
        released = 0
        for message, problem in waiting:
            if self._fixed(message, problem, api_works):
                try:
                    self.store.release(message.id)
                except (InvalidTransition, UnknownMessage):
                    continue  # an admin moved or deleted it meanwhile
                released += 1
                log.info("held_released", queue_id=message.id, problem=problem)
        return released

    def _rep(self, message: StoredMessage) -> Rep | None:
        rep = envelope_rep(message, self.reps.directory)
        if rep is not None:
            return rep
        for address in from_addresses(self.store.raw(message.id)):
            rep = self.reps.directory.rep_for(address)
            if rep is not None:
                return rep
        return None

    def _look_up(self, reps: list[Rep | None]) -> bool | None:
        """Refresh the reps' E2S addresses; whether the API answers (None: unknown)."""
        ids = sorted({rep.user_id for rep in reps if rep is not None})
        try:
            found = find_e2s_addresses(self.client, ids)
        except ApiDisabled:
            return False
        except RelayError as error:
            log.warning("recheck_lookup_failed", reason=error.reason)
            return None
        if ids:
            merged = dict(self.reps.e2s_by_user())
            merged.update(found.by_user)
            for user_id in ids:
                if user_id not in found.by_user:
                    merged.pop(user_id, None)  # removed in Salesforce since
            self.reps.set_e2s(type(found)(merged, found.function_active))
        return True

    def _fixed(self, message: StoredMessage, problem: str, api_works: bool | None) -> bool:
        if problem == "unknown_sender":
            # What the delivery would attribute, from what the edge proved: a From naming
            # a rep on a copy from an inbound source must not release it each minute.
            email = parse(self.store.raw(message.id), message.envelope, message.received_at)
            return self.reps.attribute(email, message.envelope.auth).rep is not None
        rep = self._rep(message)
        if problem == "sending_disabled":
            return self.outbound.enabled
        if rep is None:
            return False
        settings = self.reps.settings(rep)
        has_address = isinstance(self.reps.e2s_for(rep, settings), str)
        if problem == "api_disabled":
            return bool(api_works) or has_address
        # e2s_address_missing, e2s_inactive: the address exists now, or the rep's email
        # no longer needs it (logging back to api with the API answering).
        return has_address or (not settings.needs_e2s_address and bool(api_works))
