"""The file sources (relay/importing/files.py): every message once, in a stable order,
bytes as written, and a cursor that resumes exactly after a message."""

from __future__ import annotations

import email
import zipfile
from pathlib import Path

import pytest

from relay.importing.files import (
    EmlFolderSource,
    MaildirSource,
    MboxSource,
    ZipSource,
    open_file_source,
)
from relay.importing.run import where
from relay.importing.source import Source, SourceError
from tests.importing.mail_files import (
    message,
    write_eml_folder,
    write_maildir,
    write_mbox,
    zip_tree,
)

RAWS = [message(n) for n in range(7)]


def ids(source: Source, after: str | None = None) -> list[str]:
    return [str(email.message_from_bytes(m.raw)["Message-ID"]) for m in source.messages(after)]


def expected(n: int = len(RAWS)) -> list[str]:
    return [f"<import-{i}@acme-widgets.example>" for i in range(n)]


def assert_resumes(source: Source) -> None:
    """From each message's cursor, exactly the messages after it."""
    messages = list(source.messages())
    all_ids = ids(source)
    for i, item in enumerate(messages):
        assert ids(source, item.cursor) == all_ids[i + 1 :]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_mbox_reads_every_message_with_both_line_endings(tmp_path: Path, crlf: bool) -> None:
    path = write_mbox(tmp_path / "takeout.mbox", RAWS, crlf=crlf)
    assert (b"\r\n" in path.read_bytes()) is crlf
    source = open_file_source(path)
    assert isinstance(source, MboxSource)
    assert ids(source) == expected()
    assert source.count() == len(RAWS)  # type: ignore[attr-defined]
    assert_resumes(source)
    first = next(iter(source.messages()))
    # The body line "From the archive" was quoted ">From" in the file, and is read back.
    assert b">From the archive" in path.read_bytes()
    body = email.message_from_bytes(first.raw).get_payload()
    assert isinstance(body, str)
    assert "\nFrom the archive" in body
    assert (b"\r\n" in first.raw) is crlf


def test_mboxrd_keeps_one_quote_of_a_quoted_from(tmp_path: Path) -> None:
    """An mboxrd file (Gmail Takeout's kind) quotes '>From ' as '>>From ' (RFC 4155 §A);
    the stdlib writes mboxo, so the file is written by hand."""
    path = tmp_path / "rd.mbox"
    path.write_bytes(
        b"From x@y Mon Sep  1 12:00:00 2026\nMessage-ID: <rd@x>\nSubject: rd\n\n"
        b"Reply:\n>>From the original, quoted by its author\n>From a line\n\n"
        b"From x@y Mon Sep  1 12:00:00 2026\nMessage-ID: <rd2@x>\n\nsecond\n"
    )
    first, second = open_file_source(path).messages()
    assert b"\n>From the original" in first.raw
    assert b"\nFrom a line" in first.raw
    assert b"<rd2@x>" in second.raw


def test_maildir_reads_new_cur_and_subfolders_in_a_stable_order(tmp_path: Path) -> None:
    sent = [message(n, tag="sent") for n in range(3)]
    path = write_maildir(tmp_path / "Maildir", RAWS, subfolder=sent)
    assert any((path / "cur").iterdir())
    assert any((path / "new").iterdir())
    source = open_file_source(path)
    assert isinstance(source, MaildirSource)
    found = ids(source)
    assert sorted(found) == sorted(
        expected() + [f"<sent-{i}@acme-widgets.example>" for i in range(3)]
    )
    assert ids(source) == found  # stable
    assert [m.folder for m in source.messages()].count("Sent") == 3
    assert source.count() == 10  # type: ignore[attr-defined]
    assert_resumes(source)


def test_eml_folder_is_read_recursively_in_sorted_path_order(tmp_path: Path) -> None:
    path = write_eml_folder(tmp_path / "export", RAWS)
    (path / "notes.txt").write_text("not mail")
    source = open_file_source(path)
    assert isinstance(source, EmlFolderSource)
    cursors = [m.cursor for m in source.messages()]
    assert cursors == sorted(cursors)
    assert len(cursors) == len(RAWS)
    assert sorted(ids(source)) == sorted(expected())
    assert_resumes(source)


@pytest.mark.parametrize("kind", ["mbox", "maildir", "eml"])
def test_zip_of_each_kind(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "tree" / "export"
    root.mkdir(parents=True)
    if kind == "mbox":
        write_mbox(root / "All mail.mbox", RAWS)
    elif kind == "maildir":
        write_maildir(root / "Maildir", RAWS)
    else:
        write_eml_folder(root, RAWS)
    path = zip_tree(tmp_path / "export.zip", root)
    source = open_file_source(path)
    assert isinstance(source, ZipSource)
    assert sorted(ids(source)) == sorted(expected())
    assert_resumes(source)


def test_a_zip_member_that_is_not_mail_is_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("export/readme.txt", "hello")
        archive.writestr("export/a.eml", message(0))
    skipped: list[tuple[str, str]] = []
    source = open_file_source(path, lambda where, why: skipped.append((where, why)))
    assert ids(source) == expected(1)
    assert skipped == [(f"{path}:export/readme.txt", "not a mailbox (ignored)")]


def test_an_undecodable_zip_member_is_reported_with_its_name_and_skipped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for n, raw in enumerate(RAWS[:3]):
            archive.writestr(f"export/m{n}.eml", raw)
    data = bytearray(path.read_bytes())
    spot = data.index(b"Imported import 1")  # inside m1.eml's stored bytes: its CRC fails
    data[spot] ^= 0xFF
    path.write_bytes(bytes(data))
    skipped: list[tuple[str, str]] = []
    source = open_file_source(path, lambda where, why: skipped.append((where, why)))
    assert ids(source) == [expected()[0], expected()[2]]
    assert len(skipped) == 1
    assert skipped[0][0] == f"{path}:export/m1.eml"
    assert "CRC" in skipped[0][1]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.txt", b"just some text\n", "not a mailbox"),
        ("broken.zip", b"PK\x03\x04 truncated", "not a mailbox"),
        ("missing.mbox", None, "no such file or folder"),
    ],
)
def test_what_is_not_a_mailbox_is_one_readable_error(
    tmp_path: Path, name: str, content: bytes | None, says: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as raised:
        open_file_source(path)
    assert str(path) in str(raised.value)
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_message_is_named_for_a_person_by_its_cursor() -> None:
    assert where("/m/a.mbox", "123") == "/m/a.mbox at byte 123"
    assert where("/m/x.zip", '["export/all.mbox", 456]') == "/m/x.zip:export/all.mbox at byte 456"
    assert where("/m/x.zip", '["export/a.eml", null]') == "/m/x.zip:export/a.eml"
    assert where("/m/Maildir", '["Sent", "1.M2P3.host"]') == "/m/Maildir:Sent/1.M2P3.host"
    assert where("/m/eml", "2026/m001.eml") == "/m/eml/2026/m001.eml"
