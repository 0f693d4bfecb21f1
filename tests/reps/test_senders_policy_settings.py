"""The edge's per-rep settings: merged once per snapshot, not for every message (the
edge asks at RCPT and at DATA of every message to the shared address), and a refresh
after `relay settings set` still takes effect at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import relay.reps.snapshot
from relay.config import Config
from relay.reps.settings import SyncSettings, settings_for
from relay.smtp.senders import SenderPolicy
from relay.store import open_store
from relay.store.model import Rep

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
LOG = "log@relay.example"


def test_settings_are_merged_once_per_snapshot_and_refresh_renews_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(home=tmp_path, domain="relay.example")
    store = open_store(config.effective_store_url)
    try:
        store.replace_reps([ALICE], datetime.now(UTC))
        policy = SenderPolicy.from_store(config, store)
        merges: list[str | None] = []

        def counting_merge(*args: object) -> SyncSettings:
            merges.append(args[2])  # type: ignore[arg-type]
            return settings_for(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(relay.reps.snapshot, "settings_for", counting_merge)
        for _ in range(50):
            assert policy.check_rcpt(ALICE.email, LOG) is None
        assert merges == [ALICE.user_id]

        store.set_setting(ALICE.user_id, "require_personal_address", "true")
        policy.refresh(store)
        refusal = policy.check_rcpt(ALICE.email, LOG)
        assert refusal is not None
        assert refusal.startswith("550")
        assert merges == [ALICE.user_id, ALICE.user_id]
    finally:
        store.close()
