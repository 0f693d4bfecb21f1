"""Fallback guidance: what to do when logging is blocked, for the rep and for
the admin. Pure: text in, text out.

The steps follow Salesforce's own help text word for word where it names Salesforce's menus:

    Logging through the API requires Salesforce Enterprise/Unlimited, or Professional with
    the API add-on. If the Email-to-Salesforce address does not appear, enable BCC in your
    Salesforce account: log in, open the menu under your name, choose My Settings → Email →
    My Email to Salesforce. The page shows "Email to Salesforce address". If it is empty,
    scroll to "My Acceptable Email Addresses", enter the addresses you send from, and save.
    If "My Email to Salesforce" is not in your settings, your admin has not enabled it. An
    admin opens Setup → Email Administration → Email to Salesforce → Edit, checks
    "Active", and saves.

One text serves `relay queue show` (the hold reason), the log event, `relay doctor`, the
notice email and `relay address`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_EDITIONS = (
    "Logging through the API requires Salesforce Enterprise/Unlimited, or Professional with "
    "the API add-on."
)
REP_E2S_STEPS = (
    "Log in to Salesforce, open the menu under your name, choose My Settings → Email → "
    'My Email to Salesforce. The page shows "Email to Salesforce address".',
    'If it is empty, scroll to "My Acceptable Email Addresses", enter the addresses you '
    "send from, and save.",
    'If "My Email to Salesforce" is not in your settings, your admin has not enabled it: '
    "ask them to.",
)
ADMIN_E2S_STEPS = (
    "In Salesforce, open Setup → Email Administration → Email to Salesforce → Edit, check "
    '"Active", and save.',
)


@dataclass(frozen=True)
class Guidance:
    """One problem: a line saying what is wrong, and the steps for each person."""

    problem: str
    summary: str
    rep_steps: tuple[str, ...] = ()
    admin_steps: tuple[str, ...] = ()

    def text(self) -> str:
        """The summary, then numbered steps under "You (the rep)" and "Your admin"."""
        parts = [self.summary]
        for title, steps in (
            ("What the rep does:", self.rep_steps),
            ("What the admin does:", self.admin_steps),
        ):
            if steps:
                parts.append(title + "".join(f"\n  {n}. {s}" for n, s in enumerate(steps, 1)))
        return "\n\n".join(parts)

    def one_line(self) -> str:
        """For a hold reason and a log field: everything on one line."""
        steps = [*(f"rep: {s}" for s in self.rep_steps), *(f"admin: {s}" for s in self.admin_steps)]
        return " ".join([self.summary, *steps])

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "summary": self.summary,
            "rep_steps": list(self.rep_steps),
            "admin_steps": list(self.admin_steps),
        }


def api_disabled() -> Guidance:
    """The org answered API_DISABLED_FOR_ORG: Relay falls back to Email to Salesforce."""
    return Guidance(
        "api_disabled",
        f"Salesforce refused API access for this org (API_DISABLED_FOR_ORG). {API_EDITIONS} "
        "Until then Relay forwards each email to the rep's Email-to-Salesforce address.",
        rep_steps=REP_E2S_STEPS,
        admin_steps=(
            "Enable the API: use Enterprise/Unlimited, or buy the API add-on for "
            'Professional, and give Relay\'s integration user the "API Enabled" permission.',
            *ADMIN_E2S_STEPS,
        ),
    )


def e2s_address_missing(rep: str) -> Guidance:
    """No Email-to-Salesforce address is known for the rep (EmailServicesAddress)."""
    return Guidance(
        "e2s_address_missing",
        f"Relay cannot log {rep}'s email: it goes to their Email-to-Salesforce address, and "
        "Salesforce has none for them. The email is held and sent once the address exists.",
        rep_steps=REP_E2S_STEPS,
        admin_steps=(
            *ADMIN_E2S_STEPS,
            "Or set the address for the rep yourself: "
            f"`relay settings set --user {rep} e2s_address ADDRESS`.",
        ),
    )


def e2s_inactive() -> Guidance:
    """The org's Email to Salesforce switch is off."""
    return Guidance(
        "e2s_inactive",
        "Email to Salesforce is not active in this org, so Relay cannot forward email to it. "
        "The email is held and sent once it is active.",
        rep_steps=(
            'Ask your admin to activate Email to Salesforce ("My Email to Salesforce" '
            "is missing from your settings until they do).",
        ),
        admin_steps=ADMIN_E2S_STEPS,
    )


def unknown_sender(address: str) -> Guidance:
    """A sender that is neither a User's Email nor a registered alias."""
    return Guidance(
        "unknown_sender",
        f"<{address}> is not a Salesforce user known to Relay.",
        rep_steps=(
            "Send from the address on your Salesforce User, or ask your admin to add this "
            "one as yours.",
        ),
        admin_steps=(
            f"If it is a rep's own other address: `relay senders add {address} --user <username>`.",
            "If it is a customer writing to a rep, do not add it (that would let them log "
            "mail as the rep): send such copies from a named inbound source (SMTP AUTH, a "
            "client certificate, or RELAY_SMTP_INBOUND_NETWORKS with the secret address "
            "log+inbound-SECRET@), and Relay logs them as the receiving rep's.",
        ),
    )


def untrusted_inbound_copy(sender: str) -> Guidance:
    """A copy of mail a customer sent to a rep that no named inbound source sent: anyone
    can put a rep in To, so only a copy from a source the admin named is logged."""
    return Guidance(
        "untrusted_inbound_copy",
        f"a copy of <{sender}>'s email to a rep came from no inbound source Relay knows.",
        admin_steps=(
            "If your mail server sends such copies, name it as an inbound source (SMTP "
            "AUTH, a client certificate, or RELAY_SMTP_INBOUND_NETWORKS with "
            "RELAY_SMTP_INBOUND_SECRET and the address log+inbound-SECRET@); then "
            "`relay queue delete` this one, or release it if you know your server sent it. "
            "Do not add the customer as a sender: that would let them log mail as the rep.",
        ),
    )


def unknown_personal_address(address: str) -> Guidance:
    """``log+TOKEN@`` whose token belongs to no rep (mistyped, forged, or a removed rep)."""
    return Guidance(
        "unknown_personal_address",
        f"<{address}> is not anyone's personal Relay address.",
        rep_steps=("Get your address with `relay address YOUR-EMAIL` (ask your admin).",),
        admin_steps=("`relay address REP-EMAIL` prints a rep's personal address.",),
    )


def personal_address_required(domain: str) -> Guidance:
    """``require_personal_address`` is on and the shared ``log@`` address was used."""
    return Guidance(
        "personal_address_required",
        f"log@{domain} is not accepted here: use your personal Relay address.",
        rep_steps=("Ask your admin for it: `relay address YOUR-EMAIL` prints it.",),
        admin_steps=("`relay address REP-EMAIL` prints a rep's personal address.",),
    )


def direct_session_expired() -> Guidance:
    """A direct session (RELAY_SF_ACCESS_TOKEN) expired and cannot be refreshed."""
    return Guidance(
        "direct_session_expired",
        "The Salesforce session in RELAY_SF_ACCESS_TOKEN has expired; Relay cannot renew a "
        "direct session. Email is kept and logged once Relay can log in again.",
        admin_steps=(
            "Configure OAuth instead (recommended: JWT bearer): set RELAY_SF_TOKEN_URL, "
            "RELAY_SF_CLIENT_ID, RELAY_SF_USERNAME and RELAY_SF_PRIVATE_KEY_FILE "
            "(deploy/salesforce/ has the connected app), then restart Relay.",
            "Or set a fresh RELAY_SF_ACCESS_TOKEN and restart Relay.",
        ),
    )


def sending_disabled() -> Guidance:
    """RELAY_SMARTHOST is not set: no forwards, no notices."""
    return Guidance(
        "sending_disabled",
        "Sending is disabled: Relay cannot forward email to Email-to-Salesforce addresses "
        "or send notices to reps.",
        admin_steps=(
            "Set RELAY_SMARTHOST=host:port (a mail server that accepts mail from "
            "Relay) and restart Relay.",
        ),
    )


BY_PROBLEM = {
    "api_disabled": api_disabled,
    "e2s_inactive": e2s_inactive,
    "direct_session_expired": direct_session_expired,
    "sending_disabled": sending_disabled,
}
"""The problems that need no argument, by name."""
