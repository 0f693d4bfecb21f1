"""Held messages that wait for a fixable problem: the reason format, and which
rep a held message belongs to. Pure.

A hold reason for a problem with guidance reads ``PROBLEM: <guidance.one_line()>``, for
example ``e2s_address_missing: Relay cannot log alice's email ...``. The prefix is the
stable ``Guidance.problem`` name (relay/reps/guidance.py): `relay queue show` prints the whole
line, and the re-check (relay/runners/recheck.py), `relay doctor` and `relay address`
read the problem back from it. Reasons without a known prefix are left to a person.
The outcome table (relay/delivery/outcomes.py) writes its held rows in this format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from relay.reps.directory import SenderDirectory, address_tag
from relay.reps.guidance import Guidance
from relay.store.model import Rep, StoredMessage

FIXABLE = frozenset(
    {
        "unknown_sender",
        "e2s_address_missing",
        "e2s_inactive",
        "api_disabled",
        "sending_disabled",
    }
)
"""Problems the re-check can see fixed, and then releases the message."""


def hold_reason(guidance: Guidance, because: str = "") -> str:
    reason = f"{guidance.problem}: {guidance.one_line()}"
    return f"{reason} ({because})" if because else reason


def problem_of(reason: str | None) -> str | None:
    """The problem name of a hold reason written by ``hold_reason``, or None."""
    if not reason:
        return None
    name, colon, _ = reason.partition(":")
    return name if colon and name in FIXABLE else None


def envelope_rep(message: StoredMessage, directory: SenderDirectory) -> Rep | None:
    """The rep of a stored message from its envelope alone (no body read): the owner of
    a personal ``log+TOKEN@`` recipient, else the envelope sender's rep."""
    for rcpt in message.envelope.rcpt_tos:
        tag = address_tag(rcpt)
        if tag is not None:
            owner = directory.rep_for_token(tag)
            if owner is not None:
                return owner
    return directory.rep_for(message.envelope.mail_from) if message.envelope.mail_from else None


def held_for_rep(
    messages: Iterable[StoredMessage], directory: SenderDirectory, user_id: str
) -> list[StoredMessage]:
    """The held messages (with a fixable problem) attributed to this rep by envelope."""
    found = []
    for message in messages:
        if problem_of(message.reason) is None:
            continue
        rep = envelope_rep(message, directory)
        if rep is not None and rep.user_id == user_id:
            found.append(message)
    return found


def summarize(messages: Sequence[StoredMessage]) -> dict[str, int]:
    """Held messages counted by reason (the whole reason: it says what to do)."""
    counts: dict[str, int] = {}
    for message in messages:
        key = message.reason or "(no reason recorded)"
        counts[key] = counts.get(key, 0) + 1
    return counts
