"""The import lane's gathered write gives way to live mail (docs/design.md §11, "The lane
gives way"): in one worker, the imported-mail runner and the live-mail runner, the real
store (SQLite and PostgreSQL) and the local org over HTTPS. A live email being delivered
while a big gathered write is due holds the write between its steps; the live email is
logged first, and the write then goes on and logs every imported email, once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relay.config import Config, load_config
from relay.delivery.pipeline import Prepared
from relay.delivery.reps import Reps
from relay.envelope import Envelope
from relay.importing.run import imported_envelope
from relay.reps.snapshot import RepSnapshot
from relay.runners import import_lane
from relay.runners.deliver import DeliveryRunner
from relay.runners.import_lane import ImportLaneRunner
from relay.runners.rep_sync import RepSyncRunner
from relay.salesforce.client import SalesforceClient
from relay.store import SqlStore, State
from relay.store.claims import IMPORTED_LANE, LIVE_LANE
from relay.store.imports import ImportedMessage
from relay.store.model import StoredMessage
from tests.importing.mail_files import message
from tests.importing.test_import_command import CUSTOMER
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email, wait_for
from tests.support.serve import LOG, relay_env

IMPORTED = 30
THRESHOLD = 20
"""Below the import's size, so its slices are gathered and written through one job."""


@pytest.fixture
def config(org: RunningOrg, tmp_path: Path) -> Config:
    env = relay_env(
        tmp_path,
        **org.env(),
        RELAY_BULK_THRESHOLD=str(THRESHOLD),
        RELAY_PIPELINE_IMPORT_BULK_ROWS="1000",
    )
    return load_config(environ=env)


@pytest.fixture
def client(config: Config) -> Iterator[SalesforceClient]:
    with SalesforceClient(config.salesforce) as sf:
        yield sf


def runners(
    store: SqlStore, config: Config, client: SalesforceClient
) -> tuple[DeliveryRunner, ImportLaneRunner]:
    reps = Reps(RepSnapshot(config), config.home)
    RepSyncRunner(store, client, reps, 3600).sync_once()
    reps = Reps(RepSnapshot.from_store(config, store), config.home)
    live = DeliveryRunner(store, config, client, reps=reps, lane=LIVE_LANE)
    importer = ImportLaneRunner(store, config, client, reps=reps)
    return live, importer


def gathered(
    store: SqlStore, importer: ImportLaneRunner
) -> tuple[list[Sequence[StoredMessage]], list[Prepared]]:
    """The import's slices claimed and planned, as the lane gathers them."""
    import_id = store.start_import("/m/giveway.mbox", REP, {"only_matched": True}, "h:1:i").id
    raws = [message(i, sender=REP, to=CUSTOMER, tag="giveway") for i in range(IMPORTED)]
    items = [ImportedMessage(raw, imported_envelope(import_id, REP, raw)) for raw in raws]
    store.enqueue_imported(import_id, items, "end", {"read": IMPORTED, "queued": IMPORTED})
    slices: list[Sequence[StoredMessage]] = []
    parts: list[Prepared] = []
    while batch := store.claim(10, importer.worker, 300, IMPORTED_LANE):
        part = importer._prepare(batch, not slices)
        assert isinstance(part, Prepared), "the slice was written alone, not gathered"
        slices.append(batch)
        parts.append(part)
    assert sum(len(s) for s in slices) == IMPORTED
    return slices, parts


def logged_at(store: SqlStore, queue_id: str) -> datetime | None:
    return next(
        (t.at for t in store.transitions(queue_id) if t.to_state is State.LOGGED),
        None,
    )


def test_a_gathered_write_waits_while_a_live_email_is_delivered(
    store: SqlStore,
    config: Config,
    client: SalesforceClient,
    org: RunningOrg,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Long enough that only the live email's end lets the write go on.
    monkeypatch.setattr(import_lane, "GIVE_WAY_MAX_SECONDS", 120.0)
    live_runner, importer = runners(store, config, client)
    slices, parts = gathered(store, importer)
    raw = email([CUSTOMER], "Giveway live", message_id="<giveway-live@x.example>").as_bytes()
    envelope = Envelope(REP, (LOG,), peer="127.0.0.1:25", auth="trusted:envelope")
    live_id = store.enqueue(raw, envelope, datetime.now(UTC))
    (live,) = store.claim(1, live_runner.worker, 300, LIVE_LANE)
    assert live.id == live_id

    done: list[Any] = []
    writing = threading.Thread(target=lambda: done.append(importer._write_parts(slices, parts)))
    writing.start()
    try:
        # While the live email is in flight the write holds still (a write that does
        # not give way runs through in a second or two here): none of the import's
        # messages is logged.
        wait_for(
            lambda: importer.gave_way > 1.0 or not writing.is_alive(),
            timeout=60,
            what="the write to give way, or to end",
        )
        imported = [m.id for batch in slices for m in batch]
        assert [q for q in imported if logged_at(store, q) is not None] == []
        assert writing.is_alive()
    finally:
        # The live runner delivers it; then the write goes on.
        live_runner.run_batch([live])
        writing.join(timeout=120)
    assert not writing.is_alive()
    live_logged = logged_at(store, live_id)
    assert live_logged is not None
    times = [logged_at(store, queue_id) for queue_id in imported]
    assert all(at is not None and at >= live_logged for at in times)
    assert done == [0.0]


def test_a_stopping_worker_writes_what_it_gathered_without_waiting(
    store: SqlStore,
    config: Config,
    client: SalesforceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the worker stops, its live runner claims nothing more: the gathered write
    runs through (docs/design.md §2, a stop writes what is gathered), even with live mail
    in flight that nobody in this worker will finish."""
    monkeypatch.setattr(import_lane, "GIVE_WAY_MAX_SECONDS", 120.0)
    _, importer = runners(store, config, client)
    slices, parts = gathered(store, importer)
    raw = email([CUSTOMER], "Giveway stop", message_id="<giveway-stop@x.example>").as_bytes()
    envelope = Envelope(REP, (LOG,), peer="127.0.0.1:25", auth="trusted:envelope")
    store.enqueue(raw, envelope, datetime.now(UTC))
    stopping = asyncio.Event()
    stopping.set()
    importer._stopping = stopping  # what run() keeps of its stopping event
    done: list[float] = []
    writing = threading.Thread(
        target=lambda: done.append(importer._write_parts(slices, parts)), daemon=True
    )
    writing.start()
    writing.join(timeout=60)
    assert done == [0.0], "the write waited for live mail while stopping"
    assert importer.gave_way == 0.0
    imported = [m.id for batch in slices for m in batch]
    assert all(logged_at(store, queue_id) is not None for queue_id in imported)
