"""Email services addresses and files: a ContentVersion creates its ContentDocument and
its first ContentDocumentLink (Object Reference: ContentVersion, ContentDocument,
ContentDocumentLink, EmailServicesAddress)."""

from __future__ import annotations

import base64
import hashlib
import posixpath
from typing import TYPE_CHECKING

from relay.localorg.records import Row

if TYPE_CHECKING:
    from relay.localorg.data import OrgData

# ContentVersion.FileType from the file extension (guess at the mapping for common ones).
_FILE_TYPES = {
    "txt": "TEXT",
    "pdf": "PDF",
    "png": "PNG",
    "jpg": "JPG",
    "jpeg": "JPG",
    "gif": "GIF",
    "csv": "CSV",
    "doc": "WORD",
    "docx": "WORD_X",
    "xls": "EXCEL",
    "xlsx": "EXCEL_X",
    "ppt": "POWER_POINT",
    "pptx": "POWER_POINT_X",
    "html": "HTML",
    "htm": "HTML",
    "zip": "ZIP",
    "eml": "UNKNOWN",
}


def email_domain(org: OrgData, record_id: str) -> str:
    """Salesforce generates the domain of an email services address (Object Reference,
    EmailServicesAddress). Its shape here is a guess modelled on real addresses."""
    token = hashlib.sha256(f"{org.org_id}:{record_id}".encode()).hexdigest()[:24]
    return f"{token}.{org.org_id[:15].lower()}.le.salesforce.com"


def content_version_before(row: Row) -> None:
    data = base64.b64decode(row.get("VersionData") or "")
    path = row.get("PathOnClient") or ""
    extension = posixpath.splitext(path.replace("\\", "/"))[1].lstrip(".").lower()
    row["ContentSize"] = len(data)
    row["Checksum"] = hashlib.md5(data).hexdigest()  # noqa: S324 - Salesforce's checksum is MD5
    row["FileExtension"] = extension or None
    row["FileType"] = _FILE_TYPES.get(extension, "UNKNOWN")
    row["IsLatest"] = True
    if row.get("Title") is None and path:
        # Guess: Title defaults to the file name without its extension.
        row["Title"] = posixpath.splitext(posixpath.basename(path.replace("\\", "/")))[0]


def content_version_after(org: OrgData, version: Row, *, user_id: str) -> None:
    """Object Reference, ContentVersion: inserting a version without ContentDocumentId
    creates the ContentDocument; with FirstPublishLocationId it is shared to that record."""
    document_id = version.get("ContentDocumentId")
    summary = {k: version.get(k) for k in ("Title", "ContentSize", "FileType", "FileExtension")}
    summary["LatestPublishedVersionId"] = version["Id"]
    if document_id is None:
        document = org.system_insert(
            "ContentDocument", {**summary, "OwnerId": version["OwnerId"]}, user_id=user_id
        )
        number = 1
    else:
        document = org.referenced(
            org.schema["ContentVersion"].by_lower["contentdocumentid"], document_id
        )
        older = org.live_rows("ContentVersion", "ContentDocumentId", document_id)
        for previous in older:
            if previous["Id"] != version["Id"] and previous.get("IsLatest"):
                org.set_derived("ContentVersion", previous, {"IsLatest": False})
        number = len(older)
        org.system_update("ContentDocument", document, summary, user_id=user_id)
    org.set_derived(
        "ContentVersion",
        org.store.get("ContentVersion", version["Id"]) or version,
        {"ContentDocumentId": document["Id"], "VersionNumber": str(number)},
    )
    location = version.get("FirstPublishLocationId")
    if location and document_id is None:
        org.system_insert(
            "ContentDocumentLink",
            {"ContentDocumentId": document["Id"], "LinkedEntityId": location, "ShareType": "V"},
            user_id=user_id,
        )
