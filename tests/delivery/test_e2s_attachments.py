"""End to end, ``attachments=upload``: real SMTP into `relay serve`, the files read
back from the local org over HTTPS the way a Salesforce client reads them."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import requests

from tests.delivery.e2s_helpers import final, next_sync, queue
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email, wait_for
from tests.support.serve import RelayServe

pytestmark = pytest.mark.slow

MAX_BYTES = 1000
SMALL = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n" * 3
LARGE = bytes(range(256)) * 20  # 5120 bytes: over MAX_BYTES


def _with_files(subject: str, message_id: str) -> EmailMessage:
    message = email(["peter@initech.example"], subject, message_id=message_id)
    message.add_attachment(SMALL, maintype="application", subtype="pdf", filename="quote.pdf")
    message.add_attachment(LARGE, maintype="application", subtype="zip", filename="specs.zip")
    return message


def _blob(org: RunningOrg, url: str) -> bytes:
    """GET a base64 field's URL (REST API Developer Guide, "Get Blob Data")."""
    response = requests.get(
        org.info.instance_url + url,
        headers={"Authorization": f"Bearer {org.info.access_token}"},
        verify=org.info.ca_file,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.content


def test_upload_links_small_file_names_oversize_once(org: RunningOrg, serve: RelayServe) -> None:
    """attachments=upload: the small file is a ContentVersion on the Task with the original
    bytes, the oversize one is named as not uploaded, and a duplicate uploads nothing."""
    for key, value in (("attachments", "upload"), ("attachment_max_bytes", str(MAX_BYTES))):
        done = serve.cli("settings", "set", "--user", REP, key, value)
        assert done.returncode == 0, done.stderr
    next_sync(serve)
    message_id = "<files-upload-1@acme-widgets.example>"
    serve.send(_with_files("Files upload", message_id))
    final(serve, "Files upload", "logged")

    sf = org.sf()
    tasks = sf.query_all("SELECT Id, Description FROM Task WHERE Subject = 'Email: Files upload'")[
        "records"
    ]
    assert len(tasks) == 1
    task = tasks[0]
    attachment_line = next(
        line for line in task["Description"].splitlines() if line.startswith("Attachment:")
    )
    assert "quote.pdf" in attachment_line
    assert f"specs.zip (not uploaded: over {MAX_BYTES} bytes)" in attachment_line

    links = sf.query_all(
        f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{task['Id']}'"
    )["records"]
    assert len(links) == 1
    versions = sf.query_all(
        "SELECT Id, Title, PathOnClient, ContentSize, VersionData FROM ContentVersion "
        f"WHERE ContentDocumentId = '{links[0]['ContentDocumentId']}'"
    )["records"]
    assert len(versions) == 1
    assert versions[0]["PathOnClient"] == "quote.pdf"
    assert versions[0]["ContentSize"] == len(SMALL)
    assert _blob(org, versions[0]["VersionData"]) == SMALL

    # The same email again (BCC plus journaling): already logged, nothing uploaded again.
    serve.send(_with_files("Files upload", message_id))
    items = _final_both(serve, "Files upload")
    assert any(i["reason"].startswith("already logged") for i in items)
    count = sf.query("SELECT COUNT() FROM ContentVersion WHERE Title = 'quote.pdf'")["totalSize"]
    assert count == 1
    assert len(org.tasks("Subject = 'Email: Files upload'")) == 1


def _final_both(serve: RelayServe, subject: str) -> list[dict[str, object]]:
    """Both copies of ``subject`` logged."""
    found: list[dict[str, object]] = wait_for(
        lambda: (
            len(
                items := [
                    i for i in queue(serve) if i["subject"] == subject and i["state"] == "logged"
                ]
            )
            == 2
            and items
        ),
        timeout=30,
        what=f"two copies of {subject!r} logged",
    )
    return found
