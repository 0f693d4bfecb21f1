"""Human listings say so when Relay runs on the embedded local org.

With no RELAY_SF_* credentials, `relay serve` logs to the local org in RELAY_HOME
(docs/localorg.md), and so do the CLI commands. A queue that reads
``logged`` would then look like email in the company's Salesforce. So every listing marks
what went to an org with ``(local org)`` and opens with ``BANNER``; JSON output keeps its
values (tools read ``config show``'s ``salesforce.mode`` or doctor's ``local_org``).

The mark follows the configuration the command runs with, as the daemon's choice does:
a message logged while no credentials were set, and listed after they were, is not marked.
"""

from __future__ import annotations

from relay.config import Config

BANNER = (
    "LOCAL ORG: no RELAY_SF_* credentials are set, so Relay logs to its embedded local org, "
    "not a real Salesforce org. Nothing listed here reached your company's Salesforce."
)
MARK = " (local org)"
WRITTEN_STATES = frozenset({"logged", "unresolved"})
"""Queue states whose message became a Task in the org."""


def on_local_org(config: Config) -> bool:
    """The same test `relay serve` makes before it starts the embedded org."""
    return not config.salesforce.configured


def state_label(state: str, local: bool) -> str:
    """``logged (local org)`` for a message written to the local org; else the state."""
    return state + MARK if local and state in WRITTEN_STATES else state
