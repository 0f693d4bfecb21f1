"""Every message of two real-world corpora parses without an exception.

Corpora (vendored in tests/data, licences alongside): CPython's test_email data and
mail-parser's sdist tests/mails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from relay.parsing import Email

DATA = Path(__file__).parent.parent / "data"
CORPUS = sorted(
    path
    for folder in ("cpython_email", "mailparser")
    for path in (DATA / folder).iterdir()
    if path.name.startswith(("msg_", "mail_"))
)


def test_corpora_are_present() -> None:
    """Both corpora are vendored (a silent empty parametrisation would prove nothing)."""
    names = {path.parent.name for path in CORPUS}
    assert names == {"cpython_email", "mailparser"}
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_message_parses(parse_raw: Callable[..., Email], path: Path) -> None:
    """The message yields an Email; only non-email inputs are marked unparseable."""
    email = parse_raw(path.read_bytes())
    assert email.message_key
    assert email.date.tzinfo is not None
    assert email.unparseable is None or "internal" not in email.unparseable
    assert email == parse_raw(path.read_bytes())  # deterministic


def test_known_non_emails_are_unparseable(parse_raw: Callable[..., Email]) -> None:
    """A body-only fragment and an Outlook .msg binary are quarantined, not guessed at."""
    assert parse_raw((DATA / "cpython_email" / "msg_19.txt").read_bytes()).unparseable
    assert parse_raw((DATA / "mailparser" / "mail_outlook_1").read_bytes()).unparseable
