"""File sources: an mbox file, a Maildir, a folder of ``.eml`` files, or a ``.zip`` of
any of those (relay/importing/source.py says what a source gives).

- **mbox** (Gmail Takeout, Thunderbird): the standard library's ``mailbox.mbox``. It
  builds a table of contents by scanning the file line by line (offsets only) and reads
  one message at a time, so memory stays flat whatever the file's size. Lines ending in
  CRLF or LF are both read; a body line quoted as ``>From `` is unquoted by one ``>``
  (the mboxrd rule, RFC 4155 §A; the stdlib writes but never reads this quoting). The
  cursor is the message's byte offset in the file.
- **Maildir**: ``mailbox.Maildir``, the top folder then each subfolder (Maildir++
  ``.Sent``, ``.Archive``...), ``new`` and ``cur`` alike, in sorted key order (a key is
  the file's unique name without its flags, so reading mail in a client that moves it
  from ``new`` to ``cur`` does not change it). Cursor: ``[folder, key]``.
- **A folder of .eml**: every ``*.eml`` below it, in sorted relative-path order.
  Cursor: the relative path.
- **.zip**: its members in sorted name order: ``*.eml`` and Maildir members
  (``.../cur/...``, ``.../new/...``) are read one at a time; an mbox member (any other
  file that starts with ``From ``) is copied to a temporary file in chunks and read as
  an mbox. Cursor: ``[member, offset]``.

A file that cannot be read is reported through ``on_skip`` (its path or offset and why)
and skipped; a source that is not a mailbox at all raises ``SourceError``.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from relay.importing.source import Source, SourceError, SourceMessage

OnSkip = Callable[[str, str], None]
"""``on_skip(where, why)``: one input that was reported and skipped."""

_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_COPY_CHUNK = 1 << 20


def _ignore(_where: str, _why: str) -> None:
    return None


def _unquote(raw: bytes) -> bytes:
    """mboxrd: a body line ``>From `` (or ``>>From ``) was quoted when stored (RFC 4155 §A)."""
    return _QUOTED_FROM.sub(rb"\1", raw) if b">From " in raw else raw


def _looks_like_mbox(path: Path | str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(5) == b"From "


def _mbox_messages(path: Path, after: int | None, label: str) -> Iterator[tuple[int, bytes]]:
    """(offset, raw) of each message of the mbox at ``path`` after offset ``after``."""
    box = mailbox.mbox(path, create=False)
    try:
        keys = box.keys()  # builds the table of contents: offsets, never messages
        # The offsets are the stdlib's table of contents (``_toc``: key -> (start, stop)).
        toc: dict[Any, tuple[int, int]] = box._toc  # type: ignore[attr-defined]
        for key in keys:
            start = toc[key][0]
            if after is not None and start <= after:
                continue
            try:
                raw = box.get_bytes(key)
            except (OSError, ValueError) as error:
                raise SourceError(
                    f"{label}: cannot read the message at byte {start}: {error}"
                ) from None
            yield start, _unquote(raw)
    finally:
        box.close()


class MboxSource:
    def __init__(self, path: Path, on_skip: OnSkip = _ignore) -> None:
        self.path = path
        self.on_skip = on_skip

    def count(self) -> int:
        """How many messages (for the ETA): a scan of the file, offsets only."""
        box = mailbox.mbox(self.path, create=False)
        try:
            return len(box)
        finally:
            box.close()

    @property
    def identity(self) -> str:
        return str(self.path.resolve())

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        offset = int(after) if after else None
        try:
            for start, raw in _mbox_messages(self.path, offset, str(self.path)):
                if not raw.strip():
                    self.on_skip(f"{self.path} at byte {start}", "an empty mbox entry")
                    continue
                yield SourceMessage(raw, str(start))
        except OSError as error:
            reason = error.strerror or error
            raise SourceError(f"{self.path}: cannot read the mbox: {reason}") from None

    def close(self) -> None:
        return None


class MaildirSource:
    def __init__(self, path: Path, on_skip: OnSkip = _ignore) -> None:
        self.path = path
        self.on_skip = on_skip

    @property
    def identity(self) -> str:
        return str(self.path.resolve())

    def _folders(self) -> list[tuple[str, mailbox.Maildir]]:
        top = mailbox.Maildir(self.path, factory=None, create=False)
        found = [("", top)]
        pending = [("", top)]
        while pending:  # Maildir++ subfolders, and theirs
            name, box = pending.pop()
            for child in box.list_folders():
                sub = box.get_folder(child)
                full = f"{name}.{child}" if name else child
                found.append((full, sub))
                pending.append((full, sub))
        return sorted(found, key=lambda item: item[0])

    def count(self) -> int:
        return sum(len(box) for _name, box in self._folders())

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        last = tuple(json.loads(after)) if after else None
        for folder, box in self._folders():
            for key in sorted(box.iterkeys()):
                if last is not None and (folder, key) <= last:
                    continue
                try:
                    raw = box.get_bytes(key)
                except (OSError, KeyError) as error:
                    self.on_skip(f"{self.path}/{folder or '.'} message {key}", _why(error))
                    continue
                yield SourceMessage(raw, json.dumps([folder, key]), folder or None)

    def close(self) -> None:
        return None


class EmlFolderSource:
    def __init__(self, path: Path, on_skip: OnSkip = _ignore) -> None:
        self.path = path
        self.on_skip = on_skip

    @property
    def identity(self) -> str:
        return str(self.path.resolve())

    def _names(self) -> list[str]:
        return sorted(
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if p.suffix.lower() == ".eml" and p.is_file()
        )

    def count(self) -> int:
        return len(self._names())

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        for name in self._names():
            if after is not None and name <= after:
                continue
            try:
                raw = (self.path / name).read_bytes()
            except OSError as error:
                self.on_skip(str(self.path / name), _why(error))
                continue
            folder = str(PurePosixPath(name).parent)
            yield SourceMessage(raw, name, None if folder == "." else folder)

    def close(self) -> None:
        return None


def _zip_kind(name: str) -> str | None:
    parts = PurePosixPath(name).parts
    if name.endswith("/") or any(p.startswith("__MACOSX") for p in parts):
        return None
    if name.lower().endswith(".eml"):
        return "eml"
    if len(parts) >= 2 and parts[-2] in {"cur", "new"}:
        return "maildir"
    if len(parts) >= 2 and parts[-2] == "tmp":
        return None  # a Maildir's tmp holds mail still being delivered
    return "other"


class ZipSource:
    def __init__(self, path: Path, on_skip: OnSkip = _ignore) -> None:
        self.path = path
        self.on_skip = on_skip

    @property
    def identity(self) -> str:
        return str(self.path.resolve())

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        last_member, last_offset = json.loads(after) if after else (None, None)
        try:
            archive = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as error:
            raise SourceError(f"{self.path}: not a readable zip file: {error}") from None
        with archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                name, kind = info.filename, _zip_kind(info.filename)
                if kind is None or (last_member is not None and name < last_member):
                    continue
                where = f"{self.path}:{name}"
                if kind == "other":
                    offset = last_offset if name == last_member else None
                    yield from self._mbox_member(archive, info, offset)
                    continue
                if name == last_member:
                    continue
                try:
                    raw = archive.read(info)
                except (OSError, zipfile.BadZipFile, ValueError) as error:
                    self.on_skip(where, _why(error))
                    continue
                folder = str(PurePosixPath(name).parent)
                yield SourceMessage(raw, json.dumps([name, None]), folder)

    def _mbox_member(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, after: int | None
    ) -> Iterator[SourceMessage]:
        """An mbox member, copied in chunks to a temporary file (mailbox needs a seekable
        file, and seeking back in a compressed member decompresses it again)."""
        name = info.filename
        with tempfile.TemporaryDirectory(prefix="relay-import-") as scratch:
            copy = Path(scratch) / "member.mbox"
            try:
                with archive.open(info) as member, open(copy, "wb") as out:
                    head = member.read(5)
                    if head != b"From ":
                        self.on_skip(f"{self.path}:{name}", "not a mailbox (ignored)")
                        return
                    out.write(head)
                    shutil.copyfileobj(member, out, _COPY_CHUNK)
            except (OSError, zipfile.BadZipFile, ValueError) as error:
                self.on_skip(f"{self.path}:{name}", _why(error))
                return
            label = f"{self.path}:{name}"
            for start, raw in _mbox_messages(copy, after, label):
                yield SourceMessage(raw, json.dumps([name, start]), name)

    def close(self) -> None:
        return None


def _why(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"unreadable: {error.strerror}"
    return f"unreadable: {error}"


def open_file_source(path: str | os.PathLike[str], on_skip: OnSkip = _ignore) -> Source:
    """The source for ``path``: a zip, a Maildir (it has ``cur`` or ``new``), a folder
    of ``.eml``, or an mbox file; SourceError if it is none of those."""
    where = Path(path)
    if not where.exists():
        raise SourceError(f"{where}: no such file or folder")
    if where.is_dir():
        if (where / "cur").is_dir() or (where / "new").is_dir():
            return MaildirSource(where, on_skip)
        return EmlFolderSource(where, on_skip)
    try:
        if zipfile.is_zipfile(where):
            return ZipSource(where, on_skip)
        if _looks_like_mbox(where):
            return MboxSource(where, on_skip)
    except OSError as error:
        raise SourceError(f"{where}: cannot read it: {error.strerror or error}") from None
    raise SourceError(
        f"{where}: not a mailbox (an mbox file starts with 'From '; a Maildir has cur/ and "
        "new/; a folder of .eml files; or a .zip of those)"
    )
