"""`relay doctor`'s checks: pure functions from gathered facts to marks.

relay/cli/doctor.py gathers the facts (config, store, one login, one Task describe, the
rep snapshot, the Email-to-Salesforce addresses) and prints these checks. Each check has
a mark (ok, warn, fail), a detail line, and the exact steps to fix it. Any ``fail`` makes
the command exit 1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from relay.reps.e2s_addresses import E2sAddresses
from relay.reps.guidance import api_disabled, e2s_address_missing, e2s_inactive, sending_disabled
from relay.reps.settings import SyncSettings
from relay.store.model import Rep
from relay.store.task_sync import SyncState

Mark = Literal["ok", "warn", "fail"]

DEPLOY_STEPS = (
    "Deploy the field from deploy/salesforce/ (see its README): it adds Relay_Key__c "
    "(Text(80), External ID, Unique, case-sensitive) on Activity and a permission set.",
    "Without it Relay still avoids duplicates with its own ledger, but a crash between "
    "the write and the ledger update can need a look-up to reconcile.",
)


@dataclass(frozen=True)
class Check:
    name: str
    status: Mark
    detail: str
    fix: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": list(self.fix),
        }


@dataclass(frozen=True)
class Facts:
    """What `relay doctor` found; None where it could not look (an earlier step failed)."""

    config_problems: tuple[str, ...] = ()
    config_warnings: tuple[str, ...] = ()
    """RELAY_* variables that are no setting (relay.config.unknown_variables)."""
    store_error: str | None = None
    store_at_head: bool | None = None
    store_damaged: tuple[str, str] | None = None
    """PRAGMA quick_check found damage in the SQLite file: what, and what to do."""
    org: Literal["configured", "embedded", "none"] = "none"
    org_note: str = ""
    salesforce_error: str | None = None
    task_describe: Mapping[str, Any] | None = None
    external_id_field: str = "Relay_Key__c"
    smarthost: str | None = None
    reps: tuple[Rep, ...] = ()
    reps_synced: bool = False
    acceptable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    settings: Mapping[str, SyncSettings] = field(default_factory=dict)
    e2s: E2sAddresses | None = None
    held: Mapping[str, int] = field(default_factory=dict)
    """Held messages by reason (a held message's problem shows here too)."""
    local_intended: bool = False
    """RELAY_SF_LOCAL: running on the embedded local org is a trial, on purpose."""
    trusted_networks: tuple[str, ...] = ()
    sender_auth: str = "either"
    task_sync_reps: int = 0
    """How many reps have ``task_sync = on``."""
    task_sync: SyncState | None = None
    """The Task sync's cursor and last error (relay/store/task_sync.py)."""
    host_addresses: tuple[str, ...] = ()
    """This host's own IP addresses: a trusted network covering one trusts every local
    process (docs/operations.md, "Security model")."""


def check_config(problems: Sequence[str], warnings: Sequence[str] = ()) -> Check:
    if problems:
        # A typo often explains a "missing" setting: show both.
        found = (*problems, *warnings)
        return Check("configuration", "fail", f"{len(problems)} problem(s)", found)
    if warnings:
        fix = tuple(f"{w}: rename or remove it" for w in warnings)
        return Check("configuration", "warn", f"valid; {len(warnings)} unknown variable(s)", fix)
    return Check("configuration", "ok", "valid")


def check_store(
    error: str | None, at_head: bool | None, damaged: tuple[str, str] | None = None
) -> Check:
    if damaged is not None:
        detail, fix = damaged
        return Check("store", "fail", detail, (fix,))
    if error is not None:
        return Check(
            "store",
            "fail",
            error,
            ("Check RELAY_STORE_URL / RELAY_HOME: the directory must exist and be writable, "
             "or the PostgreSQL server reachable.",),
        )  # fmt: skip
    if at_head is False:
        return Check("store", "fail", "migrations are not at head", ("Restart `relay serve`: "
                     "it migrates the store on start.",))  # fmt: skip
    return Check("store", "ok", "writable, migrations at head")


def check_salesforce(org: str, note: str, error: str | None, local_intended: bool = False) -> Check:
    if org == "none":
        return Check(
            "salesforce",
            "fail",
            "no Salesforce credentials and no embedded local org",
            ("Set RELAY_SF_TOKEN_URL, RELAY_SF_CLIENT_ID, RELAY_SF_USERNAME and "
             "RELAY_SF_PRIVATE_KEY_FILE (JWT bearer; deploy/salesforce/ has the connected "
             "app), or `relay org seed --sample` to try Relay against the local org.",),
        )  # fmt: skip
    if error is not None:
        return Check("salesforce", "fail", f"{note}: {error}", ("Check the RELAY_SF_* "
                     "variables and that the org is reachable from this host.",))  # fmt: skip
    if org == "embedded":
        # A failure unless said to be a trial: a production host that lost its
        # credentials would otherwise "log" every email where no one sees it.
        detail = f"NOT A REAL SALESFORCE ORG: {note}. Nothing reaches your company's Salesforce."
        fix = ("Set the RELAY_SF_* credentials of your org to log email for real.",)
        if local_intended:
            return Check("salesforce", "warn", f"{detail} (RELAY_SF_LOCAL: a trial)", fix)
        return Check(
            "salesforce",
            "fail",
            detail,
            (*fix, "Only to try Relay on the local org on purpose: set RELAY_SF_LOCAL=1 "
             "(config: local_intended = true in [salesforce]).",),
        )  # fmt: skip
    return Check("salesforce", "ok", f"{note}: logged in")


def check_api_access(error: str | None) -> Check | None:
    """None when the login failed for another reason (check_salesforce reports it)."""
    if error is not None and ("API_DISABLED_FOR_ORG" in error or "API_CURRENTLY_DISABLED" in error):
        guidance = api_disabled()
        return Check(
            "api access",
            "fail",
            guidance.summary,
            (
                *(f"rep: {s}" for s in guidance.rep_steps),
                *(f"admin: {s}" for s in guidance.admin_steps),
            ),
        )
    if error is None:
        return Check("api access", "ok", "the REST API answers")
    return None


def _fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f["name"]): f for f in describe.get("fields", [])}


def check_task_createable(describe: Mapping[str, Any]) -> Check:
    if describe.get("createable"):
        return Check("task createable", "ok", "Relay's user can create Tasks")
    return Check(
        "task createable",
        "fail",
        "Relay's Salesforce user cannot create Tasks",
        ('Give the integration user "Edit Tasks" (profile or the permission set in '
         "deploy/salesforce/).",),
    )  # fmt: skip


def check_picklists(describe: Mapping[str, Any]) -> Check:
    fields = _fields(describe)
    missing = []
    for field_name, value in (("TaskSubtype", "Email"), ("Status", "Completed")):
        values = {str(v.get("value")) for v in fields.get(field_name, {}).get("picklistValues", [])}
        if value not in values:
            missing.append(f"Task.{field_name} has no value {value!r}")
    if missing:
        return Check(
            "task picklists",
            "fail",
            "; ".join(missing),
            ("In Setup → Object Manager → Task (Activity) → Fields, add the missing "
             "picklist values (Relay writes TaskSubtype 'Email', Status 'Completed').",),
        )  # fmt: skip
    return Check("task picklists", "ok", "TaskSubtype 'Email' and Status 'Completed' exist")


def check_external_id(describe: Mapping[str, Any], field_name: str) -> Check:
    if not field_name:
        return Check(
            "external id", "warn", "disabled (RELAY_PIPELINE_EXTERNAL_ID_FIELD=none)", DEPLOY_STEPS
        )
    found = _fields(describe).get(field_name)
    if found is None:
        return Check(
            "external id", "warn", f"Task has no field {field_name} (recommended)", DEPLOY_STEPS
        )
    if not found.get("externalId"):
        return Check(
            "external id", "warn", f"Task.{field_name} is not an External ID", DEPLOY_STEPS
        )
    return Check("external id", "ok", f"Task.{field_name} is an external id")


def check_sending(smarthost: str | None) -> Check:
    if smarthost is None:
        guidance = sending_disabled()
        return Check("sending", "warn", guidance.summary, guidance.admin_steps)
    return Check("sending", "ok", f"through {smarthost}")


def check_rep(
    rep: Rep, acceptable: Sequence[str], settings: SyncSettings, e2s: E2sAddresses | None
) -> Check:
    name = f"rep {rep.username}"
    if not rep.is_active:
        return Check(name, "fail", "not an active Salesforce User", ("Reactivate the User or "
                     "remove its aliases with `relay senders remove`.",))  # fmt: skip
    if not acceptable:
        return Check(name, "fail", "no acceptable addresses", (f"`relay senders add ADDRESS "
                     f"--user {rep.username}`",))  # fmt: skip
    detail = f"logging={settings.logging}; sends from {', '.join(acceptable)}"
    if settings.needs_e2s_address and not settings.e2s_address:
        if e2s is None:
            return Check(name, "warn", f"{detail}; could not look up the E2S address")
        problem = None
        if e2s.function_active is False:
            problem = e2s_inactive()
        elif e2s.address_for(rep.user_id) is None:
            problem = e2s_address_missing(rep.username)
        if problem is not None:
            steps = (
                *(f"rep: {s}" for s in problem.rep_steps),
                *(f"admin: {s}" for s in problem.admin_steps),
            )
            return Check(name, "fail", f"{detail}; {problem.summary}", steps)
        detail += f"; Email to Salesforce: {e2s.address_for(rep.user_id)}"
    return Check(name, "ok", detail)


def check_held(reason: str, count: int) -> Check:
    """Held messages waiting for a person; a fixable problem (its guidance named in the
    reason, relay/delivery/holds.py) fails, others warn."""
    problem, colon, _ = reason.partition(":")
    status: Mark = "fail" if colon and problem in HELD_PROBLEMS else "warn"
    fix = (
        "Do what the reason says; Relay releases the messages by itself within a minute "
        "once it is fixed (or `relay queue retry ID` now).",
    )
    if status == "warn":
        fix = ("`relay queue list --state held`, then fix and `relay queue release ID`.",)
    return Check("held messages", status, f"{count} message(s) held: {reason}", fix)


HELD_PROBLEMS = frozenset(
    {"unknown_sender", "e2s_address_missing", "e2s_inactive", "api_disabled", "sending_disabled"}
)


WIDEST_TRUSTED_ADDRESSES = 256
"""A trusted network names mail servers: wider than a /24 (IPv4) it is a whole site."""


def _too_wide(network: str, host_addresses: Sequence[str]) -> str | None:
    """Why ``network`` trusts more than the mail server in front, or None."""
    net = ipaddress.ip_network(network, strict=False)
    if net.prefixlen == 0:
        return "every address"
    if net.is_loopback or net.overlaps(
        ipaddress.ip_network("127.0.0.0/8" if net.version == 4 else "::1/128")
    ):
        return "loopback: any process, SSH tunnel or proxy on this host"
    own = [a for a in host_addresses if a_family(a, net) and ipaddress.ip_address(a) in net]
    if own:
        return f"this host's own address {own[0]}: any process on this host"
    if net.num_addresses > WIDEST_TRUSTED_ADDRESSES and (net.is_private or net.is_global):
        return f"{net.num_addresses} addresses, not one mail server"
    return None


def a_family(address: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).version == net.version


def _trust_fix(why: str) -> str:
    """What reduces the risk: a narrower network where one server is not named; where it
    is (Postfix beside Relay on this host), only that no one else can reach the port --
    narrowing to the same /32 changes nothing (docs/operations.md, "Security model")."""
    isolate = (
        "make sure only the mail server in front can reach Relay's port (run Relay in a "
        "container network or behind a firewall rule on its listening address) and trust "
        "only that server's one address"
    )
    if why.startswith(("loopback", "this host's own address")):
        return (
            f"Every process on this host can connect from there: {isolate}; see "
            'docs/operations.md, "Security model".'
        )
    return (
        f"Trust only the mail server in front of Relay (its one address), and {isolate}; "
        'see docs/operations.md, "Security model".'
    )


def check_trust(
    networks: Sequence[str], sender_auth: str, host_addresses: Sequence[str] = ()
) -> list[Check]:
    """Warn about trust that other things on the host, or the internet, can use."""
    checks = []
    for network in networks:
        why = _too_wide(network, host_addresses)
        if why is not None:
            detail = f"RELAY_SMTP_TRUSTED_NETWORKS has {network}, which covers {why}"
            checks.append(Check("trusted networks", "warn", detail, (_trust_fix(why),)))
    if sender_auth == "trusted_only" and not networks:
        # Every client is then untrusted, and trusted_only refuses untrusted clients: only
        # a named inbound source's copies still get through (docs/operations.md §13).
        detail = (
            "RELAY_SMTP_SENDER_AUTH=trusted_only with no RELAY_SMTP_TRUSTED_NETWORKS: "
            "every message is refused (but a named inbound source's copies)"
        )
        fix = (
            "Set RELAY_SMTP_TRUSTED_NETWORKS to the one address of the mail server in front "
            "of Relay, or use RELAY_SMTP_SENDER_AUTH=either (the default); see "
            'docs/operations.md, "Security model".',
        )
        checks.append(Check("sender authentication", "fail", detail, fix))
    if sender_auth == "none":
        detail = (
            "RELAY_SMTP_SENDER_AUTH=none: anyone who writes a rep's address in From is "
            "logged as that rep"
        )
        fix = ("Use either (the default), dmarc or personal_address.",)
        checks.append(Check("sender authentication", "warn", detail, fix))
    if not checks:
        checks.append(Check("sender authentication", "ok", f"sender_auth={sender_auth}"))
    return checks


def check_task_sync(reps_on: int, state: SyncState | None) -> Check:
    """The two-way sync of reminders with Salesforce Tasks (docs/design.md §9): on for
    whom, how far the poll got, and the last error with what happens next."""
    if reps_on == 0:
        return Check("task sync", "ok", "off for every rep (`task_sync`, the default)")
    state = state or SyncState()
    polled = state.cursor_modstamp.isoformat() if state.cursor_modstamp else "not yet"
    detail = f"on for {reps_on} rep(s); Tasks polled up to {polled}"
    # The error is already the sync's own text (relay/tasksync/wording.py): what
    # happened, in Salesforce's words, and what happens next.
    if state.error_kind == "needs_attention":
        return Check("task sync", "fail", f"{detail}; {state.error}", (
            "Fix what it names; the next cycle (RELAY_TASK_SYNC_INTERVAL) tries again.",
            "`relay settings set --user EMAIL task_sync off` stops a rep's sync meanwhile.",
        ))  # fmt: skip
    if state.error_kind == "rate_limited":
        return Check("task sync", "warn", f"{detail}; {state.error}", (
            "The sync resumes by itself. If this recurs, raise the org's API allocation or "
            "RELAY_TASK_SYNC_INTERVAL.",
        ))  # fmt: skip
    if state.error_kind == "transient":
        return Check("task sync", "warn", f"{detail}; {state.error}", (
            "Nothing to do if it passes: every cycle tries again.",
        ))  # fmt: skip
    return Check("task sync", "ok", detail)


def run_checks(facts: Facts) -> list[Check]:
    """Every check, in the order an admin fixes things."""
    checks = [
        check_config(facts.config_problems, facts.config_warnings),
        check_store(facts.store_error, facts.store_at_head, facts.store_damaged),
    ]
    checks.append(
        check_salesforce(facts.org, facts.org_note, facts.salesforce_error, facts.local_intended)
    )
    if facts.org != "none":
        api = check_api_access(facts.salesforce_error)
        if api is not None:
            checks.append(api)
    if facts.task_describe is not None:
        checks.append(check_task_createable(facts.task_describe))
        checks.append(check_picklists(facts.task_describe))
        checks.append(check_external_id(facts.task_describe, facts.external_id_field))
    checks.append(check_sending(facts.smarthost))
    checks.extend(check_trust(facts.trusted_networks, facts.sender_auth, facts.host_addresses))
    if not facts.reps_synced:
        checks.append(Check("reps", "warn", "the rep snapshot was never synced from Salesforce"))
    for rep in facts.reps:
        settings = facts.settings.get(rep.user_id, SyncSettings())
        checks.append(check_rep(rep, facts.acceptable.get(rep.user_id, ()), settings, facts.e2s))
    for reason, count in facts.held.items():
        checks.append(check_held(reason, count))
    checks.append(check_task_sync(facts.task_sync_reps, facts.task_sync))
    return checks


def failed(checks: Sequence[Check]) -> bool:
    return any(check.status == "fail" for check in checks)
