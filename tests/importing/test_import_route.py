"""The route step for imported mail (relay/delivery/route.py): the rep the admin named,
vouched as a named source's copies are, no confirmations, and ``--only-matched`` as the
unmatched policy ``drop`` unless the import turned it off; live mail keeps its settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.config import Config, SyncConfig
from relay.delivery.reps import Reps
from relay.delivery.route import Route, Routed
from relay.envelope import Envelope
from relay.importing.run import imported_envelope
from relay.matching.model import relay_domain_predicate
from relay.reps.directory import SenderDirectory
from relay.smtp.senders import SenderPolicy
from relay.store import SqlStore
from relay.store.imports import ImportedMessage
from relay.store.model import Rep
from tests.importing.mail_files import message

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")


def routed(store: SqlStore, tmp_path: Path, only_matched: bool | None) -> Routed:
    config = Config(
        home=tmp_path,
        domain="relay.example",
        sync=SyncConfig(confirmations="on", unmatched="unresolved_task"),
    )
    reps = Reps(SenderPolicy(config, SenderDirectory.build([ALICE])), tmp_path)
    raw = message(0, sender=ALICE.email, to="hank@globex.example")
    if only_matched is None:  # live mail
        queue_id = store.enqueue(
            raw, Envelope(ALICE.email, ("log@relay.example",)), datetime.now(UTC)
        )
    else:
        filters = {"only_matched": only_matched}
        import_id = store.start_import("/m/a.mbox", ALICE.email, filters, "h:1:import").id
        envelope = imported_envelope(import_id, ALICE.email, raw)
        (queue_id,) = store.enqueue_imported(import_id, [ImportedMessage(raw, envelope)], "0", {})
    stored = store.get(queue_id)
    assert stored is not None
    result = Route(store, reps, relay_domain_predicate("relay.example"))(stored)
    assert isinstance(result, Routed)
    return result


@pytest.mark.parametrize("only_matched", [True, False])
def test_imported_mail(store: SqlStore, tmp_path: Path, only_matched: bool) -> None:
    result = routed(store, tmp_path, only_matched)
    assert (result.rep, result.inbound, result.vouched) == (ALICE, False, True)
    assert result.settings.confirmations == "off"
    assert result.settings.unmatched == ("drop" if only_matched else "unresolved_task")


def test_live_mail_keeps_the_reps_settings(store: SqlStore, tmp_path: Path) -> None:
    result = routed(store, tmp_path, None)
    assert result.vouched is False
    assert (result.settings.confirmations, result.settings.unmatched) == ("on", "unresolved_task")
