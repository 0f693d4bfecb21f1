"""Mailboxes on disk for the import tests: mbox (LF or CRLF), Maildir, a folder of
.eml, and zips of each, written with the standard library's own writers where it has
one (``mailbox.mbox``, ``mailbox.Maildir``), so the files are what mail clients make."""

from __future__ import annotations

import mailbox
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path


def message(
    n: int,
    *,
    sender: str = "alice@acme-widgets.example",
    to: str = "bob@initech.example",
    when: datetime | None = None,
    body: str = "",
    tag: str = "import",
) -> bytes:
    """One email, its Message-ID ``<tag-n@...>``; ``body`` defaults to a line that
    starts with 'From ' (the line an mbox must quote)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = f"Imported {tag} {n}"
    mail["Message-ID"] = f"<{tag}-{n}@acme-widgets.example>"
    mail["Date"] = format_datetime(
        when or datetime(2026, 9, 1, 12, tzinfo=UTC) + timedelta(hours=n)
    )
    mail.set_content(body or f"Hello {n},\nFrom the archive: message {n}.\n")
    return mail.as_bytes()


def write_mbox(path: Path, raws: Sequence[bytes], crlf: bool = False) -> Path:
    box = mailbox.mbox(path)
    for raw in raws:
        box.add(raw)
    box.flush()
    box.close()
    if crlf:
        data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        path.write_bytes(data)
    return path


def write_maildir(path: Path, raws: Sequence[bytes], subfolder: Sequence[bytes] = ()) -> Path:
    box = mailbox.Maildir(path)
    for n, raw in enumerate(raws):
        key = box.add(raw)
        if n % 2:  # read mail is moved from new/ to cur/ with flags
            msg = box[key]
            msg.set_subdir("cur")
            msg.add_flag("S")
            box[key] = msg
    if subfolder:
        sent = box.add_folder("Sent")
        for raw in subfolder:
            sent.add(raw)
    return path


def write_eml_folder(path: Path, raws: Sequence[bytes]) -> Path:
    for n, raw in enumerate(raws):
        where = path / ("2026" if n % 2 else "older") / f"m{n:03d}.eml"
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(raw)
    return path


def zip_tree(zip_path: Path, root: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(root.rglob("*")):
            if item.is_file():
                archive.write(item, item.relative_to(root.parent).as_posix())
    return zip_path
