"""`relay import SOURCE --user EMAIL [--since D] [--until D] [--folder NAME]... [--dry-run]
[--json]` and `relay import list [--json]` (docs/design.md §11).

SOURCE is an mbox file, a Maildir, a folder of ``.eml``, a ``.zip`` of those
(relay/importing/files.py) or ``imap://USER@HOST[:PORT]/FOLDER`` (relay/importing/imap.py,
the password from ``RELAY_IMAP_PASSWORD`` or a prompt). The import queues the messages
in the import lane; the workers of `relay serve` deliver them, live mail first. Running
the same command again resumes after the last message stored. Ctrl-C (or SIGTERM) stops
cleanly: what was read is queued, the cursor saved. ``--json`` prints one JSON object a
second, the last with the final counts. Exit 0 done, 1 a problem (a source that cannot
be read, an unknown rep), 2 a usage error, 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from types import FrameType
from typing import Any

import click

from relay.cli.context import AppContext, console, pass_app
from relay.cli.exits import fail, opened_store
from relay.cli.safe_text import cells, clean
from relay.errors import RelayError
from relay.importing.filters import Filters, Verdict, admit
from relay.importing.source import Source, SourceError
from relay.store import SqlStore
from relay.store.imports import HEARTBEAT_SECONDS, RUNNING, shown_state
from relay.store.leases import this_host

INTERRUPTED = 130
STALL_HINT_SECONDS = 15.0


class ImportGroup(click.Group):
    """``relay import SOURCE ...`` runs an import; ``relay import list`` lists them. A
    first argument that is not a sub-command is the SOURCE (``./list`` for a file
    named list)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=ImportGroup)
def import_command() -> None:
    """Import a mailbox's past email into Salesforce, as the rep --user's.

    \b
    relay import SOURCE --user EMAIL [--since D] [--until D] [--dry-run] [--json]
    relay import imap://USER@HOST/ --user EMAIL --folder INBOX --folder Sent
    relay import list [--json]

    SOURCE is an mbox file, a Maildir, a folder of .eml, a .zip of those, or
    imap://USER@HOST[:PORT]/FOLDER. Running the same command again resumes; `relay
    serve` delivers the imported mail, live mail first. `relay import SOURCE --help`
    lists every option.
    """


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@import_command.command("run", hidden=True)
@click.argument("source")
@click.option("--user", required=True, help="The rep whose mailbox this is (email).")
@click.option("--since", callback=_day, help="Only mail dated on or after this day.")
@click.option("--until", callback=_day, help="Only mail dated on or before this day.")
@click.option(
    "--only-matched/--not-only-matched",
    default=True,
    show_default=True,
    help="Drop mail that matches no record instead of making unresolved items.",
)
@click.option(
    "--folder",
    "folders",
    multiple=True,
    help="An IMAP folder to import instead of the URL's; repeat for more "
    "(--folder INBOX --folder Sent). Each folder is an import of its own.",
)
@click.option("--dry-run", is_flag=True, help="Write nothing; print what would happen.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--window", type=click.IntRange(1), default=None, hidden=True)
@pass_app
def run(
    app: AppContext,
    source: str,
    user: str,
    since: date | None,
    until: date | None,
    only_matched: bool,
    folders: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    window: int | None,
) -> None:
    """Import SOURCE (an mbox, a Maildir, a folder of .eml, a .zip, or
    imap://USER@HOST[:PORT]/FOLDER) as the mail of the rep --user."""
    if since and until and since > until:
        raise click.BadParameter("--since is after --until")
    if folders and not _is_imap(source):
        raise click.UsageError(
            "--folder is for IMAP sources (imap://USER@HOST/FOLDER); a file source is "
            "read whole (every folder of a Maildir or a zip)"
        )
    config = app.config
    filters = Filters(since, until, config.smtp.max_message_bytes)
    reporter = _Reporter(as_json)
    with opened_store(app) as store:
        rep_email = _rep_email(app, store, user)
        opened = _open_sources(source, list(dict.fromkeys(folders)), reporter.skipped, since, until)
        try:
            if dry_run:
                _dry_run(app, store, opened, rep_email, filters, only_matched, reporter)
                return
            from relay.importing.run import import_window

            window = window or import_window(config.pipeline)
            status = _import_each(store, opened, rep_email, filters, only_matched, reporter, window)
        except RelayError as error:  # the store failed before or after the import ran
            fail(f"{error.reason}; run the same command again to go on")
        finally:
            for each in opened:
                each.close()
    raise SystemExit(status)


def _is_imap(source: str) -> bool:
    return source.lower().startswith(("imap://", "imaps://"))


def _rep_email(app: AppContext, store: SqlStore, user: str) -> str:
    from relay.reps.snapshot import RepSnapshot

    directory = RepSnapshot.from_store(app.config, store).directory
    rep = directory.rep_for(user)
    if rep is None:
        if not directory.synced:
            fail(
                f"{user}: Relay has not read its reps from Salesforce yet: start `relay serve` "
                "once (its first rep sync), then run the import again"
            )
        fail(
            f"{user} is not a rep Relay knows: an active Salesforce User's email, or an "
            "address added with `relay senders add`"
        )
    return user.strip().lower()


def _open_sources(
    source: str,
    folders: list[str],
    on_skip: Callable[[str, str], None],
    since: date | None,
    until: date | None,
) -> list[Source]:
    """The sources to import, each opened now so a wrong password or a missing folder is
    one line before anything is queued: the file source, the URL's IMAP folder, or each
    ``--folder`` (one IMAP connection a folder, each an import of its own)."""
    opened: list[Source] = []
    try:
        if not _is_imap(source):
            from relay.importing.files import open_file_source

            return [open_file_source(source, on_skip)]
        from relay.importing import imap

        password = os.environ.get("RELAY_IMAP_PASSWORD")
        if password is None:
            password = click.prompt("IMAP password", hide_input=True, err=True)
        targets: list[str | None] = [*folders] or [None]  # None: the URL's folder
        for folder in targets:
            opened.append(
                imap.open_imap(source, password=password, folder=folder, since=since, until=until)
            )
        return opened
    except SourceError as error:
        for each in opened:
            each.close()
        fail(str(error))


class _Reporter:
    """Where lines go: one readable line per skipped input on stderr; progress on
    stderr (rich) or, with --json, one object a second on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.skip_sink: Callable[[str, str], None] | None = None
        self._last = 0.0
        self._progress: Any = None
        self._task: Any = None

    def skipped(self, where: str, why: str) -> None:
        if self.skip_sink is not None:
            self.skip_sink(where, why)
        else:
            self.line(f"skipped {where}: {why}")

    def line(self, text: str) -> None:
        click.echo(f"relay import: {clean(text)}", err=True)

    def start(self, total: int | None, done: int) -> None:
        if self.as_json or not sys.stderr.isatty():
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} msg/s"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console_err(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "import", total=total, completed=done, rate="-", counts=""
        )

    def update(self, snapshot: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        if self.as_json:
            sys.stdout.write(json.dumps(snapshot) + "\n")
            sys.stdout.flush()
        elif self._progress is not None:
            counts = " ".join(f"{key} {snapshot[key]}" for key in PROGRESS_COUNTS)
            self._progress.update(
                self._task, completed=snapshot["read"], rate=snapshot["rate"], counts=counts
            )

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def console_err() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def _stop_on_signals(stop: threading.Event, interrupted: list[bool]) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) asks the import to stop after the current chunk;
    a second Ctrl-C stops at once (what was stored stays stored)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        interrupted.append(True)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


PROGRESS_COUNTS = ("read", "matched", "logged", "duplicate", "unresolved", "skipped", "failed")
"""The counts the progress bar shows, in its order."""
SUMMED = ("read", "queued", *PROGRESS_COUNTS[1:], "filtered", "pending")
"""The counts the last ``--json`` line of several folders sums."""


def _import_each(
    store: SqlStore,
    sources: list[Source],
    rep_email: str,
    filters: Filters,
    only_matched: bool,
    reporter: _Reporter,
    window: int | None,
) -> int:
    """Import each source in turn (one, or each ``--folder``); Ctrl-C stops them all.
    With more than one, a last line sums them, so ``--json``'s last object has the
    totals of the command, as with one source."""
    finals: list[dict[str, Any]] = []
    status = 0
    for source in sources:
        status, final = _import(store, source, rep_email, filters, only_matched, reporter, window)
        finals.append(final)
        if status != 0:
            break
    if len(sources) > 1:
        everything = len(finals) == len(sources)
        state = "done" if everything and all(f["state"] == "done" for f in finals) else "stopped"
        totals = {
            "imports": [f["import"] for f in finals],
            "sources": [s.identity for s in sources],
            "state": state,
            **{key: sum(int(f[key]) for f in finals) for key in SUMMED},
        }
        if reporter.as_json:
            reporter.update(totals, force=True)
        else:
            keys = ("read", "logged", "duplicate", "unresolved", "skipped", "failed", "pending")
            click.echo(
                f"{len(finals)} of {len(sources)} folders imported, {state}: "
                + ", ".join(f"{k} {totals[k]}" for k in keys)
            )
    return status


def _import(
    store: SqlStore,
    source: Source,
    rep_email: str,
    filters: Filters,
    only_matched: bool,
    reporter: _Reporter,
    window: int | None,
) -> tuple[int, dict[str, Any]]:
    from relay.importing.run import WINDOW, Importer, Snapshot

    host = this_host()
    for earlier in store.list_imports([rep_email]):
        if (
            earlier.source == source.identity
            and shown_state(earlier, host=host)[0] == RUNNING
            and earlier.owner != _owner(host)
        ):
            fail(f"this import is already running ({earlier.owner}); stop it first")
    record = store.start_import(
        source.identity,
        rep_email,
        {
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "only_matched": only_matched,
        },
        _owner(host),
    )
    if record.cursor is not None:
        reporter.line(f"resuming import {record.id} after {record.cursor}")
    importer = Importer(
        store=store,
        source=source,
        import_id=record.id,
        user=rep_email,
        cursor=record.cursor,
        counts=dict(record.counts),
        filters=filters,
        report=reporter.line,
        window=window or WINDOW,
    )
    reporter.skip_sink = importer.skipped
    total = _total(source)
    snapshot = Snapshot(
        importer.counts,
        importer.outcomes(),
        total,
        time.monotonic(),
        importer.counts.get("read", 0),
    )
    stalled = _StallHint(reporter)

    def tick() -> None:
        snapshot.outcomes = importer.outcomes()
        document = snapshot.as_dict()
        stalled.check(document)
        reporter.update(document)

    interrupted: list[bool] = []
    reporter.start(total, importer.counts.get("read", 0))
    try:
        with _stop_on_signals(importer.stop, interrupted), _heartbeat(store, record.id, host):
            try:
                state = importer.run(tick)
            except SourceError as error:
                reporter.stop()
                fail(str(error))
            except RelayError as error:  # the store failed (locked, down, disk full)
                reporter.stop()
                fail(f"{error.reason}; run the same command again to go on")
            except KeyboardInterrupt:
                state = "stopped"
    except BaseException:
        reporter.stop()
        raise
    snapshot.outcomes = store.import_outcomes(record.id)
    snapshot.state = state
    final = {"import": record.id, **snapshot.as_dict()}
    # The bar's last frame shows the final counts: rich draws it when it stops.
    reporter.update(final, force=True)
    reporter.stop()
    if not reporter.as_json:
        _summary(final)
    if state != "done":
        reporter.line(
            f"import {state}; run the same command again to go on"
            + (
                f" ({final['pending']} queued messages are still delivered)"
                if final["pending"]
                else ""
            )
        )
    return INTERRUPTED if interrupted else 0, final


@contextmanager
def _heartbeat(store: SqlStore, import_id: str, host: str) -> Iterator[None]:
    """Refresh the import's heartbeat every ``HEARTBEAT_SECONDS`` from a thread, so it is
    fresh even while the source is slow to answer (an IMAP fetch) or the import waits
    for the queue; when this process dies, the heartbeat stops and readers show the
    import stopped (relay/store/imports.py ``shown_state``)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            try:
                store.beat_import(import_id, _owner(host))
            except RelayError:  # the store is down: the import itself reports that
                continue

    thread = threading.Thread(target=beat, name="import-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=HEARTBEAT_SECONDS)


class _StallHint:
    """One line when queued mail is not being delivered: `relay serve` delivers it."""

    def __init__(self, reporter: _Reporter) -> None:
        self.reporter = reporter
        self.pending_since: float | None = None
        self.last_done = -1
        self.said = False

    def check(self, document: dict[str, Any]) -> None:
        done = document["queued"] - document["pending"]
        if document["pending"] == 0 or done != self.last_done:
            self.last_done, self.pending_since = done, time.monotonic()
            return
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        if not self.said and time.monotonic() - self.pending_since > STALL_HINT_SECONDS:
            self.said = True
            self.reporter.line(
                f"{document['pending']} queued messages are waiting for delivery: "
                "is `relay serve` running?"
            )


def _owner(host: str) -> str:
    return f"{host}:{os.getpid()}:import"


def _total(source: Source) -> int | None:
    count = getattr(source, "count", None)
    try:
        return int(count()) if callable(count) else None
    except (OSError, SourceError):
        return None


def _summary(final: dict[str, Any]) -> None:
    keys = ("read", "logged", "duplicate", "unresolved", "skipped", "failed", "filtered", "pending")
    click.echo(
        f"import {final['import']} {final['state']}: " + ", ".join(f"{k} {final[k]}" for k in keys)
    )


def _dry_run(
    app: AppContext,
    store: SqlStore,
    sources: list[Source],
    rep_email: str,
    filters: Filters,
    only_matched: bool,
    reporter: _Reporter,
) -> None:
    from relay.cli.org_access import open_org
    from relay.delivery.reps import Reps
    from relay.importing.dry_run import DryRun
    from relay.importing.run import where
    from relay.reps.snapshot import RepSnapshot

    counts = {"read": 0, "filtered": 0, "skipped": 0}

    def skipped(where: str, why: str) -> None:
        counts["skipped"] += 1
        reporter.line(f"skipped {where}: {why}")

    reporter.skip_sink = skipped

    def admitted() -> Iterator[bytes]:
        for source in sources:
            for message in source.messages(None):
                counts["read"] += 1
                verdict = admit(message.raw, filters)
                if verdict is Verdict.ADMIT:
                    yield message.raw
                elif verdict is Verdict.FILTERED:
                    counts["filtered"] += 1
                else:
                    where_ = where(source.identity, message.cursor)
                    skipped(where_, verdict.value.replace("_", " "))

    config = app.config
    reps = Reps(RepSnapshot.from_store(config, store), config.home)
    try:
        with open_org(config, None) as (client, note):
            reporter.line(note)
            report = DryRun(store, config, client, reps, rep_email, only_matched).run(admitted())
    except SourceError as error:
        fail(str(error))
    except RelayError as error:
        fail(error.reason)
    document = {**counts, **report.as_dict(), "dry_run": True}
    if reporter.as_json:
        sys.stdout.write(json.dumps(document) + "\n")
        return
    out = console()
    out.print(
        f"dry run (nothing written): read {counts['read']}, filtered {counts['filtered']}, "
        f"skipped {counts['skipped']}",
        markup=False,
    )
    for title, values in (
        ("by outcome", document["outcomes"]),
        ("top matched accounts", document["top_accounts"]),
        ("unmatched domains", document["unmatched_domains"]),
    ):
        out.print(f"{title}:", markup=False)
        for key, n in values.items():
            out.print(f"  {clean(str(key))}: {n}", markup=False)
    share = report.allocation_share
    allocation = (
        f"; {share:.2%} of the org's daily allocation of {report.daily_api_max:,} "
        f"({report.daily_api_remaining:,} left now)"
        if share is not None and report.daily_api_remaining is not None
        else "; the org's daily allocation could not be read"
    )
    out.print(
        f"estimated API calls: {report.api_calls} ({report.lookup_calls} lookups, "
        f"{report.write_calls} writes of {report.tasks} Tasks){allocation}",
        markup=False,
    )


@import_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@pass_app
def list_imports(app: AppContext, as_json: bool) -> None:
    """List the imports, oldest first, with their counts. An import whose `relay
    import` process is gone (killed) shows as stopped, whatever its row says."""
    with opened_store(app) as store:
        rows = store.import_summaries()
    if as_json:
        for listed in rows:
            sys.stdout.write(json.dumps(listed, default=str) + "\n")
        return
    if not rows:
        click.echo("no imports")
        return
    from rich.table import Table

    table = Table()
    for name in (
        "id",
        "source",
        "user",
        "state",
        "read",
        "logged",
        "duplicate",
        "skipped",
        "failed",
        "pending",
        "updated",
    ):
        table.add_column(name, overflow="fold")
    for listed in rows:
        why = listed["error"] or listed["note"]
        table.add_row(
            *cells(
                listed["id"],
                listed["source"],
                listed["user"],
                listed["state"] + (f" ({why})" if why else ""),
                *(
                    str(listed[k])
                    for k in ("read", "logged", "duplicate", "skipped", "failed", "pending")
                ),
                datetime.fromisoformat(listed["updated_at"]).isoformat(timespec="seconds"),
            )
        )
    console().print(table)
