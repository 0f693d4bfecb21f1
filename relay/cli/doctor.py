"""`relay doctor [--json]`: check everything and say how to fix what is wrong.

It opens the store (which migrates it, as every command does), logs in once, describes
Task, reads the active Users and the Email-to-Salesforce addresses, and writes nothing
else. Exit 1 if any check fails (docs/design.md §8).
"""

from __future__ import annotations

import dataclasses
import socket

import click
from rich.text import Text

from relay.cli.context import PROBLEM_FOUND, AppContext, console, pass_app, print_json
from relay.cli.local_org import BANNER, on_local_org
from relay.cli.org_access import open_org
from relay.cli.safe_text import text
from relay.config import Config, load_config, unknown_variables
from relay.doctor import Check, Facts, check_config, failed, run_checks
from relay.errors import ConfigError, RelayError
from relay.reps.directory import ACTIVE_USERS_SOQL, SenderDirectory, rep_from_record
from relay.reps.e2s_addresses import find_e2s_addresses
from relay.reps.settings import settings_for
from relay.salesforce.client import SalesforceClient
from relay.store import SqlStore, open_store
from relay.store.integrity import StoreDamaged, check_store_file
from relay.store.model import Rep, State

MARKS = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def doctor(app: AppContext, as_json: bool) -> None:
    """Check config, store, Salesforce, fields, senders and addresses."""
    try:
        config = load_config(app.config_path)
    except ConfigError as error:
        report([check_config(error.problems, tuple(unknown_variables()))], as_json)
        raise SystemExit(PROBLEM_FOUND) from None
    config = app.config  # valid: the context also sets up logging
    checks = run_checks(gather(config))
    report(checks, as_json, local_org=on_local_org(config))
    if failed(checks):
        raise SystemExit(PROBLEM_FOUND)


def gather(config: Config) -> Facts:
    facts = Facts(
        smarthost=config.smarthost,
        external_id_field=config.pipeline.external_id_field,
        config_warnings=tuple(unknown_variables()),
        local_intended=config.salesforce.local_intended,
        trusted_networks=config.smtp.trusted_networks,
        sender_auth=config.smtp.sender_auth,
        host_addresses=host_addresses(),
    )
    try:
        check_store_file(config.effective_store_url)
    except StoreDamaged as error:  # not opened: opening migrates, which writes
        return dataclasses.replace(facts, store_damaged=(error.detail, error.fix))
    try:
        store = open_store(config.effective_store_url)
    except (RelayError, ValueError) as error:
        return dataclasses.replace(facts, store_error=str(error))
    try:
        try:
            store.check_writable()
        except RelayError as error:
            facts = dataclasses.replace(facts, store_error=error.reason)
        facts = dataclasses.replace(facts, store_at_head=True, held=_held(store))
        facts = _task_sync(config, store, facts)
        return _gather_org(config, store, facts)
    finally:
        store.close()


def host_addresses() -> tuple[str, ...]:
    """This host's addresses as its name resolves (best effort: none if it does not)."""
    try:
        found = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return ()
    return tuple(sorted({str(info[4][0]).split("%")[0] for info in found}))


def _task_sync(config: Config, store: SqlStore, facts: Facts) -> Facts:
    overrides = store.setting_overrides()
    reps_on = sum(
        1
        for rep in store.list_reps()
        if rep.is_active and settings_for(config.sync, overrides, rep.user_id).task_sync == "on"
    )
    return dataclasses.replace(facts, task_sync_reps=reps_on, task_sync=store.task_sync_state())


def _held(store: SqlStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in store.list([State.HELD]):
        reason = message.reason or "(no reason recorded)"
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def _gather_org(config: Config, store: SqlStore, facts: Facts) -> Facts:
    if config.salesforce.configured:
        kind = "configured"
    elif (config.home / "localorg" / "org.db").exists():
        kind = "embedded"
    else:
        return dataclasses.replace(facts, org="none")
    facts = dataclasses.replace(facts, org=kind)  # type: ignore[arg-type]
    try:
        with open_org(config, None) as (client, note):
            facts = dataclasses.replace(facts, org_note=note)
            try:
                describe = client.describe("Task")
                users = client.query_all(ACTIVE_USERS_SOQL)
            except RelayError as error:
                return dataclasses.replace(facts, salesforce_error=error.reason)
            return _gather_reps(
                config, store, client, [rep_from_record(u) for u in users], facts, describe
            )
    except RelayError as error:
        return dataclasses.replace(facts, salesforce_error=error.reason)


def _gather_reps(
    config: Config,
    store: SqlStore,
    client: SalesforceClient,
    active: list[Rep],
    facts: Facts,
    describe: dict[str, object],
) -> Facts:
    """Known reps: the active Users, plus any User an alias or a setting names (who may
    have been deactivated since)."""
    aliases = store.list_senders()
    overrides = store.setting_overrides()
    directory = SenderDirectory.build(active, aliases)
    by_id = {rep.user_id: rep for rep in active}
    for alias in aliases:
        by_id.setdefault(alias.user_id, Rep(alias.user_id, alias.username, "", is_active=False))
    reps = tuple(by_id.values())
    settings = {rep.user_id: settings_for(config.sync, overrides, rep.user_id) for rep in reps}
    needing = [uid for uid, s in settings.items() if s.needs_e2s_address and not s.e2s_address]
    e2s = None
    if needing:
        try:
            e2s = find_e2s_addresses(client, needing)
        except RelayError:
            e2s = None
    return dataclasses.replace(
        facts,
        task_describe=describe,
        reps=reps,
        reps_synced=store.reps_synced_at() is not None,
        acceptable={rep.user_id: directory.acceptable_addresses(rep.user_id) for rep in reps},
        settings=settings,
        e2s=e2s,
    )


def report(checks: list[Check], as_json: bool, *, local_org: bool = False) -> None:
    if as_json:
        print_json(
            {
                "ok": not failed(checks),
                "checks": [check.to_dict() for check in checks],
                "local_org": local_org,
            }
        )
        return
    out = console()
    if local_org:
        out.print(BANNER, markup=False)
    for check in checks:
        # Details and fixes name reps, addresses and hold reasons: data, never markup.
        mark = Text.from_markup(MARKS[check.status])
        out.print(Text.assemble(mark, " ", text(f"{check.name}: {check.detail}")))
        for step in check.fix:
            out.print(Text.assemble("       fix: ", text(step)))
