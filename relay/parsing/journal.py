"""Exchange envelope journal reports: the true sender and every recipient, Bcc included.

Source: Microsoft, "Understanding Journal Reports" (Exchange 2010, TechNet bb331962) and
"Journal Report Format" (Exchange 2007, TechNet bb738122). A journal report is a message
whose body lists, one value per line::

    Sender: sender@contoso.com
    Subject: ...
    Message-Id: <...>
    To: user@contoso.com
    Cc: user2@contoso.com
    Bcc: hidden@contoso.com
    To: dl-member@contoso.com, Expanded: dl@contoso.com
    Cc: fwd@contoso.com, Forwarded: user@contoso.com
    Recipient: user3@contoso.com          (when addressing could not be verified)
    On-Behalf-Of: ...

and carries the original message, unaltered, as a ``message/rfc822`` attachment. The
report is marked by the ``X-MS-Journal-Report`` header (Exchange 2007 and later;
``X-MS-Exchange-Organization-Journal-Report`` inside the organisation); Exchange 2003
used ``Content-Identifier: ExJournalReport`` and a ``Recipients:`` list.

For each recipient line Relay keeps the journaled recipient address (the one before
``, Expanded:`` / ``, Forwarded:``): it is the mailbox that received the message. A
distribution list itself is not a person and is not listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from relay.parsing import addresses
from relay.parsing.model import Address, JournalReport

_JOURNAL_HEADERS = ("x-ms-journal-report", "x-ms-exchange-organization-journal-report")
_LINE = re.compile(
    r"^[ \t]*(?P<field>sender|from|on-behalf-of|to|cc|bcc|recipients?)[ \t]*:[ \t]*(?P<value>.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_REDIRECTION = re.compile(r",\s*(?:expanded|forwarded)\s*:.*$", re.IGNORECASE)


def is_journal_report(headers: Mapping[str, str]) -> bool:
    """Whether the header fields mark an Exchange journal report."""
    if any(name in headers for name in _JOURNAL_HEADERS):
        return True
    return headers.get("content-identifier", "").strip().lower() == "exjournalreport"


def parse_report(body: str) -> tuple[JournalReport, tuple[Address, ...]]:
    """The report's sender and recipients, and separately its Bcc recipients."""
    sender: Address | None = None
    recipients: list[Address] = []
    bcc: list[Address] = []
    for match in _LINE.finditer(body):
        field = match.group("field").lower()
        value = match.group("value").strip()
        if field in {"sender", "from"}:
            if sender is None:
                found = addresses.from_text(value)
                sender = found[0] if found else None
            continue
        if field == "on-behalf-of":
            continue
        if field == "recipients":  # Exchange 2003: one comma-separated list
            recipients.extend(addresses.from_text(value))
            continue
        found = addresses.from_text(_REDIRECTION.sub("", value))
        recipients.extend(found)
        if field == "bcc":
            bcc.extend(found)
    return (
        JournalReport(sender=sender, recipients=addresses.unique(recipients)),
        addresses.unique(bcc),
    )
