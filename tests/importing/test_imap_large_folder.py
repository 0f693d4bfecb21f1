"""A folder larger than one SEARCH reply can carry (relay/importing/imap.py): imaplib
refuses a reply line over 1,000,000 bytes, and ``UID SEARCH`` answers on one line."""

from __future__ import annotations

import os

import pytest

from relay.importing.imap import open_imap
from relay.importing.source import SourceError
from tests.support.dovecot import PASSWORD, USER, running_dovecot

MESSAGES = 170_000  # UIDs 1 to 170,000: about 1.08 MB of SEARCH reply


@pytest.mark.slow
def test_a_folder_past_one_search_reply_is_searched_in_windows() -> None:
    with running_dovecot() as server:
        server.create("Big")
        # Written straight into the Maildir, one file a message in cur/, as a delivery
        # agent would: 170,000 APPENDs would take minutes.
        cur = server.directory / "home" / USER / "Maildir" / ".Big" / "cur"
        owner = cur.stat()
        for number in range(MESSAGES):
            path = cur / f"1700000000.M{number}P1.relay-test:2,"
            path.write_bytes(b"Subject: %d\r\n\r\nx\r\n" % number)
            os.chown(path, owner.st_uid, owner.st_gid)

        one_search = open_imap(server.url("Big"), password=PASSWORD, ca_file=server.ca_file)
        one_search.search_window = MESSAGES  # as if the source searched 1:* at once
        try:
            with pytest.raises(SourceError, match="got more than 1000000 bytes"):
                one_search.messages()
        finally:
            one_search.close()

        source = open_imap(server.url("Big"), password=PASSWORD, ca_file=server.ca_file)
        try:
            stream = source.messages()
            assert source.found == MESSAGES
            assert next(stream).raw == b"Subject: 0\r\n\r\nx\r\n"
        finally:
            source.close()
