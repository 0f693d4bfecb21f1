"""The matching policies of the delivery stage: the configured one, and one per set of
a rep's overrides (``SyncSettings.match_policy_overrides``), built once and kept."""

from __future__ import annotations

from relay.config import Config
from relay.matching import MatchPolicy
from relay.reps.settings import SyncSettings


class Policies:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.default = MatchPolicy.from_config(config)
        self._by_overrides: dict[tuple[tuple[str, str], ...], MatchPolicy] = {}

    def for_settings(self, settings: SyncSettings) -> MatchPolicy:
        overrides = settings.match_policy_overrides()
        key = tuple(sorted(overrides.items()))
        if key not in self._by_overrides:
            self._by_overrides[key] = MatchPolicy.from_config(self.config, **overrides)
        return self._by_overrides[key]
