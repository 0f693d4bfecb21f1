"""What the Task sync says when a cycle fails (pure): its own plain texts, shown by
`relay doctor` and on the console's Tasks page (docs/design.md §9, "Errors").

The errors come from the Salesforce client, whose reasons are written for the email
pipeline ("the message is quarantined", "Relay keeps accepting mail", "Relay matches the
message again"). The sync keeps their class (what happens next) and Salesforce's own
words (``RelayError.said``), and says the rest itself:

- transient (``TemporaryError``, ``OutcomeUnknown``): the sync will retry at its next
  cycle, and nothing is lost (creates are upserts on the external id, the poll reads the
  same rows again);
- rate limit (``RateLimited``): the sync is paused until a time, then resumes by itself;
- anything else: a person must act, and the text names the fix for the sync (the
  integration user reads and writes the reps' Tasks).
"""

from __future__ import annotations

from datetime import UTC, datetime

from relay.errors import RateLimited, RelayError, TemporaryError, Unprocessable

TRANSIENT = "transient"
RATE_LIMITED = "rate_limited"
NEEDS_ATTENTION = "needs_attention"

_ACCESS = (
    "give the integration user Read, Create, Edit and Delete on Task and access to the "
    'reps\' Tasks ("View All" and "Modify All" on Task, or sharing)'
)
_FIELD = (
    "deploy the Relay key field on Task (deploy/salesforce/) and give the integration user "
    "field-level security on it, and on the Task fields the sync maps"
)
_PICKLIST = (
    "Task's Status needs the values Not Started and Completed, and Priority Normal and High "
    "(Setup > Object Manager > Task)"
)
_OBJECT = "check the API version (RELAY_SF_API_VERSION) and that the integration user can see Task"
_DUPLICATE = (
    "mark the Relay key field Unique and External ID (deploy/salesforce/) and delete the "
    "duplicate Tasks"
)
_API = (
    "the org has no API access, which the sync needs: Enterprise, Unlimited, Performance or "
    'Developer Edition (or the API add-on), and "API Enabled" for the integration user'
)
_STORAGE = "the org's data storage is full: free or buy storage (Setup > Storage Usage)"
_RULE = (
    "a validation rule, flow or trigger on Task refused the sync's write: let the "
    "integration user's Task writes through"
)
_REQUIRED = "the org requires a Task field the sync does not fill: give it a default value"
_INACTIVE = "a rep is inactive in Salesforce: reactivate them, or turn their sync off"
_UNKNOWN = (
    "an admin should read Salesforce's message below; meanwhile “Do not sync” "
    "(`relay settings set --user EMAIL task_sync off`) stops a rep's sync"
)

FIXES: dict[str, str] = {
    "INVALID_FIELD": _FIELD,
    "INVALID_FIELD_FOR_INSERT_UPDATE": _FIELD,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _PICKLIST,
    "INVALID_TYPE": _OBJECT,
    "NOT_FOUND": _OBJECT,
    "DUPLICATE_EXTERNAL_ID": _DUPLICATE,
    "API_DISABLED_FOR_ORG": _API,
    "API_CURRENTLY_DISABLED": _API,
    "STORAGE_LIMIT_EXCEEDED": _STORAGE,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": _RULE,
    "CANNOT_EXECUTE_FLOW_TRIGGER": _RULE,
    "REQUIRED_FIELD_MISSING": _REQUIRED,
    "INACTIVE_OWNER_OR_USER": _INACTIVE,
}
"""The fix for the sync, by Salesforce's error code (REST API Developer Guide, "Status
Codes and Error Responses"); ``INSUFFICIENT_ACCESS*`` is the access fix."""


def error_kind(error: RelayError) -> str:
    """What happens next, as `relay doctor` and the Tasks page name it."""
    if isinstance(error, RateLimited):
        return RATE_LIMITED  # paused, then tried again
    if isinstance(error, TemporaryError):
        return TRANSIENT  # tried again next cycle
    return NEEDS_ATTENTION  # fails every cycle until a person fixes it


def fix_for(error: RelayError) -> str | None:
    """The fix a person makes for an error that is neither transient nor a rate limit;
    None when the error's own reason is already that fix."""
    code = error.code or ""
    if code.startswith("INSUFFICIENT_ACCESS"):
        return _ACCESS
    if code in FIXES:
        return FIXES[code]
    if error.code or isinstance(error, Unprocessable):
        # A code Relay has no rule for, or an answer the pipeline would quarantine its
        # message for: nothing here names a fix.
        return _UNKNOWN
    # No Salesforce code: a reason Relay wrote for a person that fits the sync as well
    # (the missing external-id field, a 403 or 404 without a code, the TLS CA, a
    # sign-in the org refused).
    return None


def describe(error: RelayError, paused_until: datetime | None = None) -> str:
    """The sync's text for a failed cycle: what happened, in Salesforce's words, and
    what happens next (``paused_until``: the end of a rate limit's pause)."""
    said = f" (Salesforce said {error.said})" if error.said else ""
    kind = error_kind(error)
    if kind == RATE_LIMITED:
        until = _shown(paused_until) if paused_until else "a few minutes"
        return (
            f"Salesforce's API request limit is used up{said}. The sync is paused until "
            f"{until}, then resumes by itself; nothing is lost."
        )
    if kind == TRANSIENT:
        what = error.said or error.reason
        return (
            f"Salesforce did not complete the last cycle ({what}). The sync will retry at "
            "its next cycle; nothing is lost."
        )
    fix = fix_for(error)
    if fix is None:
        return f"The sync needs a fix: {_sentence(error.reason)}. It tries again every cycle."
    return f"The sync needs a fix: {_sentence(fix)}{said}. It tries again every cycle."


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sentence(text: str) -> str:
    return text.rstrip(". ")
