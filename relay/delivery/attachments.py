"""``attachments=upload``: each attachment as a file on the email's Tasks.

A ContentVersion with ``FirstPublishLocationId`` = the first Task creates the
ContentDocument and its first ContentDocumentLink (Object Reference, ContentVersion:
"FirstPublishLocationId ... the record is linked to the document"); each further Task
gets its own ContentDocumentLink (ShareType V, viewer). One API call per attachment and
per further Task. Attachments over ``attachment_max_bytes`` are skipped; the
Description's ``Attachment:`` line still names them, marked "(not uploaded: over N
bytes)" (``note_oversize``), so the rep sees the file exists and why it is not there.

Uploads follow the Task write: they happen only for Tasks this attempt created, never
for an "already logged" copy, so a retry does not upload twice. A failed upload is
logged and does not fail the message (the Task exists; its Description names the file).
"""

from __future__ import annotations

import base64
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage
from email.parser import BytesParser

from relay.errors import RelayError
from relay.logs import get_logger
from relay.matching.drafts import DESCRIPTION_MAX, TRUNCATION_MARKER
from relay.parsing import Attachment
from relay.privacy import IsOwn, redact_own
from relay.salesforce.client import SalesforceClient

log = get_logger("relay.runners.attachments")


def attachment_parts(raw: bytes) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each attachment with a file name. Pure."""
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):
        return []
    found = []
    for part in message.iter_attachments():
        name = part.get_filename()
        if not name or part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.append((name, payload))
    return found


def note_oversize(
    description: str, attachments: Sequence[Attachment], max_bytes: int, is_own: IsOwn
) -> str:
    """The Description with each attachment over ``max_bytes`` marked as not uploaded on
    its ``Attachment:`` line (relay/matching/drafts.py writes that line, with Relay's own
    addresses replaced: ``is_own``). Pure."""
    if not any(a.size > max_bytes for a in attachments):
        return description
    plain = "Attachment: " + redact_own("; ".join(a.filename for a in attachments), is_own)
    marked = "Attachment: " + "; ".join(
        redact_own(a.filename, is_own) + f" (not uploaded: over {max_bytes} bytes)"
        if a.size > max_bytes
        else redact_own(a.filename, is_own)
        for a in attachments
    )
    head, found, tail = description.partition(plain + "\n")
    if not found:
        return description
    text = head + marked + "\n" + tail
    if len(text) <= DESCRIPTION_MAX:
        return text
    if text.endswith(TRUNCATION_MARKER):
        text = text[: -len(TRUNCATION_MARKER)]
    return text[: DESCRIPTION_MAX - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def upload_attachments(
    client: SalesforceClient,
    raw: bytes,
    task_ids: Sequence[str],
    max_bytes: int,
    queue_id: str,
    is_own: IsOwn,
) -> int:
    """Upload and link every attachment up to ``max_bytes``; returns how many. A file's
    name is its title on the Task, so Relay's own addresses are replaced in it too."""
    if not task_ids:
        return 0
    uploaded = 0
    for original, data in attachment_parts(raw):
        name = redact_own(original, is_own)
        if len(data) > max_bytes:
            log.info("attachment_skipped", queue_id=queue_id, size=len(data), limit=max_bytes)
            continue
        try:
            version_id = client.create(
                "ContentVersion",
                {
                    "PathOnClient": name,
                    "Title": name,
                    "VersionData": base64.b64encode(data).decode(),
                    "FirstPublishLocationId": task_ids[0],
                },
            )
            document = client.get("ContentVersion", version_id, ["ContentDocumentId"])[
                "ContentDocumentId"
            ]
            for task_id in task_ids[1:]:
                client.create(
                    "ContentDocumentLink",
                    {"ContentDocumentId": document, "LinkedEntityId": task_id, "ShareType": "V"},
                )
        except RelayError as error:
            log.warning("attachment_upload_failed", queue_id=queue_id, reason=error.reason)
            continue
        uploaded += 1
    if uploaded:
        log.info("attachments_uploaded", queue_id=queue_id, files=uploaded, tasks=len(task_ids))
    return uploaded
