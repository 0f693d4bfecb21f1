"""Sync settings: what each rep's email does once Relay has it. Pure.

Three layers, later wins: the org defaults from the configuration (``[sync]``,
``RELAY_SYNC_*``), the org overrides in the store (scope ``org``), and one rep's overrides
(scope = their User id). ``relay settings show|set`` edits the last two; runners call
``effective_settings`` per rep. These mirror the "Salesforce sync settings" of Sales
Insight Actions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relay.config import SYNC_PARSERS, SyncConfig
from relay.store.model import ORG_SCOPE


def parse_e2s_address(value: object) -> str:
    """An admin override of a rep's Email-to-Salesforce address (``none`` clears it)."""
    text = str(value).strip()
    if text.lower() in {"", "none"}:
        return ""
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text):
        raise ValueError("not an email address (the rep's Email to Salesforce address)")
    return text


PARSERS: dict[str, Callable[[object], Any]] = {**SYNC_PARSERS, "e2s_address": parse_e2s_address}
"""Every key `relay settings set` accepts, with its validation."""

USER_ONLY_KEYS = frozenset({"e2s_address"})
"""Keys that only make sense for one rep."""

ALLOWED: dict[str, str] = {
    "logging": "api, email_to_salesforce, off",
    "multiple_matches": "all, oldest, most_activity",
    "opportunities": "all_open, most_recent_open, none",
    "unmatched": "unresolved_task, hold, drop",
    "body": "full, none",
    "attachments": "names, upload",
    "attachment_max_bytes": "a whole number of bytes, 1 or more",
    "confirmations": "on, off",
    "task_sync": "off, on",
    "digest": "on, off",
    "require_personal_address": "true, false",
    "e2s_address": "an email address, or none (per rep only)",
}
"""What each key allows, for the usage error of `relay settings set`."""


class InvalidSetting(ValueError):
    """A key or value `relay settings set` cannot take; the message names what is allowed."""


@dataclass(frozen=True)
class SyncSettings(SyncConfig):
    """The effective settings for one rep (or the org when no rep is given): the org
    defaults' keys (relay.config.SyncConfig) plus the per-rep ``e2s_address`` override."""

    e2s_address: str = ""

    @property
    def needs_e2s_address(self) -> bool:
        """This rep's email goes to their Email-to-Salesforce address."""
        return self.logging == "email_to_salesforce"

    def match_policy_overrides(self) -> dict[str, str]:
        """Keyword overrides for ``MatchPolicy.from_config(config, **overrides)``."""
        return {
            "multiple_matches": self.multiple_matches,
            "opportunities": self.opportunities,
            "unmatched": self.unmatched,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validate(key: str, value: object, *, per_user: bool) -> Any:
    """The parsed value of ``key``, or InvalidSetting saying what is allowed."""
    if key not in PARSERS:
        raise InvalidSetting(f"unknown setting {key!r}: one of {', '.join(sorted(PARSERS))}")
    if key in USER_ONLY_KEYS and not per_user:
        raise InvalidSetting(f"{key} is set per rep: use --user EMAIL")
    try:
        return PARSERS[key](value)
    except ValueError as error:
        raise InvalidSetting(f"{key}={value!r}: {error} (allowed: {ALLOWED[key]})") from None


def effective_settings(
    org_defaults: SyncConfig,
    org_overrides: Mapping[str, str] | None = None,
    user_overrides: Mapping[str, str] | None = None,
) -> SyncSettings:
    """Merge the three layers. A stored value that no longer validates (a key removed or
    renamed in a later release) is skipped, so a bad row never stops mail."""
    values: dict[str, Any] = dataclasses.asdict(org_defaults)
    for layer, per_user in ((org_overrides, False), (user_overrides, True)):
        for key, raw in (layer or {}).items():
            try:
                values[key] = validate(key, raw, per_user=per_user)
            except InvalidSetting:
                continue
    known = {field.name for field in dataclasses.fields(SyncSettings)}
    return SyncSettings(**{key: value for key, value in values.items() if key in known})


def settings_for(
    org_defaults: SyncConfig, overrides: Mapping[str, Mapping[str, str]], user_id: str | None
) -> SyncSettings:
    """``effective_settings`` from ``Store.setting_overrides()`` for one rep (or the org)."""
    return effective_settings(
        org_defaults,
        overrides.get(ORG_SCOPE),
        overrides.get(user_id) if user_id is not None else None,
    )


def stored_text(value: Any) -> str:
    """How a validated value is stored (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
