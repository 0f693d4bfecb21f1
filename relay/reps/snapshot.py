"""The shared snapshot of reps and their settings, read by the SMTP edge and the runners.

``RepSnapshot`` holds a ``SenderDirectory`` (reps, aliases, personal-address tokens) and
the setting overrides from the store, swapped whole by ``refresh``. One object serves
both sides (the daemon hands the edge's ``SenderPolicy``, a ``RepSnapshot``, to the
runners), so an alias added with `relay senders add` is seen by both after one refresh.

Reads are lock-free: ``refresh`` builds a new snapshot and replaces the attributes in
one assignment. Call ``refresh`` from a thread (it reads the store). Every process keeps
its snapshot current by watching the store's ``reps`` change version
(relay/runners/rep_changes.py), so a change made by the CLI or another node counts
within a second (docs/design.md §2).
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
        self.version: int | None = None
        """The store's reps change version as of the last ``refresh`` (None: never read)."""
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
            # The version first: a change committed during the reads below moves it past
            # what is recorded here, so the next ``is_current`` reads again.
            version = store.change_versions().reps
            directory = SenderDirectory.from_store(store, self._secret)
            overrides = store.setting_overrides()
            self.directory, self.overrides = directory, overrides
            self.version = version

    def is_current(self, store: Store) -> bool:
        """True if no reps, aliases or settings changed in the store since the last
        ``refresh`` (one read of the change versions; blocking)."""
        return store.change_versions().reps == self.version

    def refresh_if_changed(self, store: Store) -> bool:
        """Refresh if the store changed since the last read; True if it did (blocking)."""
        if self.is_current(store):
            return False
        self.refresh(store)
        return True

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
