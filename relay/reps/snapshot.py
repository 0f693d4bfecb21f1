"""The shared snapshot of reps and their settings, read by the SMTP edge and the runners.

``RepSnapshot`` holds a ``SenderDirectory`` (reps, aliases, personal-address tokens) and
the setting overrides from the store, swapped whole by ``refresh``. One object serves
both sides (the daemon hands the edge's ``SenderPolicy``, a ``RepSnapshot``, to the
runners), so an alias added with `relay senders add` is seen by both after one refresh.

Reads are lock-free: ``refresh`` builds a new snapshot and replaces the attributes in
one assignment. Call ``refresh`` from a thread (it reads the store), e.g. every minute
and after `relay senders add`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from relay.config import Config, SyncConfig
from relay.reps.directory import SenderDirectory, load_address_secret
from relay.reps.settings import SyncSettings, settings_for
from relay.store.model import Store


class RepSnapshot:
    """Reps, aliases and setting overrides as last read from the store."""

    def __init__(
        self,
        config: Config,
        directory: SenderDirectory | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._defaults: SyncConfig = config.sync
        self._secret = b""
        self.directory = directory or SenderDirectory()
        self.overrides: Mapping[str, Mapping[str, str]] = overrides or {}
        self._refresh_lock = threading.Lock()
        # Each rep's merged settings, for the overrides object they were merged from.
        self._settings_cache: tuple[object, dict[str | None, SyncSettings]] = (None, {})

    @classmethod
    def from_store(cls, config: Config, store: Store) -> RepSnapshot:
        snapshot = cls(config)
        snapshot.load(config, store)
        return snapshot

    def load(self, config: Config, store: Store) -> None:
        """Read the personal-address secret from RELAY_HOME, then the store (blocking)."""
        self._secret = load_address_secret(config.home)
        self.refresh(store)

    def refresh(self, store: Store) -> None:
        """Re-read reps, aliases and settings from the store (blocking: use a thread).
        Serialised: the rep-sync, re-check and delivery threads all refresh, and without
        the lock an older read could be assigned after a newer one."""
        with self._refresh_lock:
            if not self._secret:
                self._secret = self.directory.secret
            directory = SenderDirectory.from_store(store, self._secret)
            overrides = store.setting_overrides()
            self.directory, self.overrides = directory, overrides

    def settings(self, user_id: str | None) -> SyncSettings:
        """The rep's effective settings, merged once per snapshot: the edge asks for
        every message to the shared address (twice: RCPT and DATA), and a merge costs
        about as much as the cached DMARC check (docs/benchmarks.md, "Sender checks at
        the edge"). A new ``overrides`` (``refresh``) starts a new cache; the pair is
        swapped in one assignment, so a reader never mixes two snapshots."""
        overrides = self.overrides
        merged_from, cache = self._settings_cache
        if merged_from is not overrides:
            cache = {}
            self._settings_cache = (overrides, cache)
        found = cache.get(user_id)
        if found is None:
            found = cache[user_id] = settings_for(self._defaults, overrides, user_id)
        return found
