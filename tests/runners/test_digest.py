"""The morning digest (relay/runners/digest.py) through a real SMTP sink, on both store
backends: 08:00 in each rep's zone, overdue and due today, one per rep per day across
runners (nodes), the ``digest`` setting, and a failed send tried again."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from relay.config import Config
from relay.delivery.reps import Reps
from relay.outbound import Outbound
from relay.reps.snapshot import RepSnapshot
from relay.runners.digest import DigestRunner
from relay.store import SqlStore
from relay.store.model import Rep
from relay.store.values import new_reminder
from tests.support.smtp_sink import CaptureSmtp, capture_sink

KIRI = Rep("005000000000001AAA", "kiri@example.com", "kiri@example.com", "Kiri", True,
           "Pacific/Kiritimati")  # fmt: skip
PAGO = Rep("005000000000002AAA", "pago@example.com", "pago@example.com", "Pago", True,
           "Pacific/Pago_Pago")  # fmt: skip
QUIET = Rep("005000000000003AAA", "quiet@example.com", "quiet@example.com", "Quiet", True, "UTC")
ACCOUNT = "001000000000001AAA"

# 2026-12-02 18:30 UTC: 08:30 on 2026-12-03 on Kiritimati (UTC+14), 07:30 on 2026-12-02
# in Pago Pago (UTC-11), 18:30 in UTC.
KIRI_MORNING = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
PAGO_MORNING = datetime(2026, 12, 2, 19, 30, tzinfo=UTC)


@pytest.fixture
def capture() -> Iterator[CaptureSmtp]:
    with capture_sink() as sink:
        yield sink


def runner(store: SqlStore, capture: CaptureSmtp, tmp_path: Path) -> DigestRunner:
    config = dataclasses.replace(Config(home=tmp_path), smarthost=capture.smarthost)
    reps = Reps(RepSnapshot.from_store(config, store), tmp_path)
    return DigestRunner(store, reps, Outbound(config))


@pytest.fixture
def seeded(store: SqlStore) -> SqlStore:
    store.replace_reps([KIRI, PAGO, QUIET], datetime.now(UTC))
    store.set_setting(QUIET.user_id, "digest", "off")
    store.add_reminders(
        [
            new_reminder(KIRI.user_id, "Call Hank", date(2026, 12, 3), records=(ACCOUNT,)),
            new_reminder(KIRI.user_id, "Old quote", date(2026, 11, 20), priority="high"),
            new_reminder(KIRI.user_id, "Next week", date(2026, 12, 10)),
            new_reminder(PAGO.user_id, "Pago today", date(2026, 12, 2)),
            new_reminder(QUIET.user_id, "Quiet today", date(2026, 12, 2)),
        ]
    )
    done = new_reminder(KIRI.user_id, "Done already", date(2026, 12, 3))
    store.add_reminders([done])
    store.edit_reminder(done.id, status="complete")
    return store


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_each_rep_gets_one_digest_from_eight_in_their_zone(
    seeded: SqlStore, capture: CaptureSmtp, tmp_path: Path
) -> None:
    first = runner(seeded, capture, tmp_path)
    # Kiritimati's morning; still before 08:00 in Pago Pago; Quiet has digest off.
    assert first.send_due(KIRI_MORNING) == 1
    [sent] = capture.messages
    assert sent.rcpt_tos == ("kiri@example.com",)
    assert sent.mail_from == "<>"  # the null sender: a bounce goes nowhere
    message = message_from_bytes(sent.data)
    assert message["Subject"] == "Relay: 1 due today, 1 overdue (2026-12-03)"
    assert message["Auto-Submitted"] == "auto-generated"
    text = body(message)
    assert "- 2026-12-03 Call Hank  [records: 001000000000001AAA]" in text
    assert "- 2026-11-20 Old quote (high)" in text
    assert "Next week" not in text
    assert "Done already" not in text
    assert text.index("Old quote") < text.index("Call Hank")  # overdue first
    # Again, and from another node: nothing more for Kiritimati that day.
    assert first.send_due(KIRI_MORNING) == 0
    assert runner(seeded, capture, tmp_path).send_due(KIRI_MORNING) == 0
    # An hour later it is 08:30 in Pago Pago.
    assert runner(seeded, capture, tmp_path).send_due(PAGO_MORNING) == 1
    assert [m.rcpt_tos for m in capture.messages] == [("kiri@example.com",), ("pago@example.com",)]
    assert "Pago today" in body(message_from_bytes(capture.messages[1].data))
    assert all(m.rcpt_tos != ("quiet@example.com",) for m in capture.messages)


def test_a_failed_send_is_tried_again(
    seeded: SqlStore, capture: CaptureSmtp, tmp_path: Path
) -> None:
    digest = runner(seeded, capture, tmp_path)
    capture.reply = "451 4.3.0 try later"
    assert digest.send_due(KIRI_MORNING) == 0
    capture.reply = None
    assert digest.send_due(KIRI_MORNING) == 1
    assert [m.rcpt_tos for m in capture.messages] == [("kiri@example.com",)]
