"""``confirmations=on``: after the batch's outcomes, one short note to the rep per
logged or unresolved email, naming the records it was logged to
(relay/delivery/notices.py sends it, once per email and rep)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from relay.delivery.notices import Notifier
from relay.delivery.route import Routed
from relay.matching.model import object_for_id
from relay.store.model import Outcome, State


def confirm(
    notifier: Notifier,
    outcomes: Sequence[Outcome],
    routed: Mapping[str, Routed],
    logged_to: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Confirm each outcome whose rep asked for it (``logged_to``: queue id -> record
    ids it was logged to)."""
    for outcome in outcomes:
        item = routed.get(outcome.queue_id)
        if item is None or item.rep is None or item.settings.confirmations != "on":
            continue
        if item.inbound:
            continue  # the rep received it and did not ask for it to be logged
        if outcome.state not in (State.LOGGED, State.UNRESOLVED):
            continue
        records = (logged_to or {}).get(outcome.queue_id, ())
        subject, text = confirmation(item.email.subject, outcome, records)
        notifier.confirmation(item.rep, outcome.queue_id, item.email.message_key, subject, text)


def confirmation(subject: str, outcome: Outcome, records: Sequence[str] = ()) -> tuple[str, str]:
    """The confirmation's subject and text. Pure."""
    if outcome.state is State.UNRESOLVED:
        return (
            f"Relay: not matched: {subject}"[:200],
            f'Your email "{subject}" matched no Salesforce record. {outcome.reason}.\n\n'
            "To resolve it, your admin runs `relay unresolved list` to find it, then "
            "`relay unresolved assign ID RECORD-ID` (or `relay unresolved discard ID`).",
        )
    text = f'Your email "{subject}": {outcome.reason}.'
    if records:
        named = (f"{object_for_id(r) or 'Record'} {r}" for r in records)
        text += "\n\nLogged to:\n" + "\n".join(f"  - {line}" for line in named)
    return (f"Relay: logged: {subject}"[:200], text)
