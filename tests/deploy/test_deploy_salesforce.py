"""deploy/salesforce: the metadata agrees with itself and with the local org's Relay_Key__c."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from relay.config import PipelineConfig
from tests.deploy.deploy_helpers import DEPLOY, REPO

SF = DEPLOY / "salesforce"
SOURCE = SF / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
LOCAL_ORG_SCHEMA = REPO / "relay" / "localorg" / "schema_custom.toml"


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def text(element: ET.Element, tag: str) -> str:
    found = element.find(f"md:{tag}", NS)
    assert found is not None, tag
    assert found.text is not None, tag
    return found.text


def test_relay_key_field_matches_the_local_org() -> None:
    """Relay_Key__c has the local org's type, length, external id, unique and case rules."""
    field = parse(SOURCE / "objects" / "Activity" / "fields" / "Relay_Key__c.field-meta.xml")
    schema = tomllib.loads(LOCAL_ORG_SCHEMA.read_text())
    local = next(f for f in schema["Task"]["fields"] if f["name"] == "Relay_Key__c")
    assert local["type"] == "string"
    assert text(field, "type") == "Text"
    assert int(text(field, "length")) == local["length"]
    assert (text(field, "externalId") == "true") is local["external_id"]
    assert (text(field, "unique") == "true") is local["unique"]
    assert (text(field, "caseSensitive") == "true") is local["case_sensitive"]
    assert text(field, "fullName") == PipelineConfig().external_id_field


def test_package_lists_exactly_the_shipped_components() -> None:
    """manifest/package.xml names each component under force-app, and nothing else."""
    package = parse(SF / "manifest" / "package.xml")
    listed = {
        (text(types, "name"), member.text)
        for types in package.findall("md:types", NS)
        for member in types.findall("md:members", NS)
    }
    shipped = {
        ("CustomField", f"{p.parent.parent.name}.{p.name.split('.')[0]}")
        for p in SOURCE.glob("objects/*/fields/*.field-meta.xml")
    }
    shipped |= {
        ("PermissionSet", p.name.split(".")[0])
        for p in SOURCE.glob("permissionsets/*.permissionset-meta.xml")
    }
    shipped |= {
        ("ConnectedApp", p.name.split(".")[0])
        for p in SOURCE.glob("connectedApps/*.connectedApp-meta.xml")
    }
    assert listed == shipped
    project = json.loads((SF / "sfdx-project.json").read_text())
    assert project["packageDirectories"][0]["path"] == "force-app"
    assert text(package, "version") == project["sourceApiVersion"]


def test_permission_set_grants_what_relay_uses() -> None:
    """API access, Tasks, the key field, and read with View All on the objects Relay queries."""
    permset = parse(SOURCE / "permissionsets" / "Relay_Integration.permissionset-meta.xml")
    user_permissions = {
        text(p, "name") for p in permset.findall("md:userPermissions", NS) if text(p, "enabled")
    }
    assert {"ApiEnabled", "EditTask", "ViewSetup", "ViewAllUsers"} <= user_permissions
    readable = {
        text(p, "object")
        for p in permset.findall("md:objectPermissions", NS)
        if text(p, "allowRead") == "true" and text(p, "viewAllRecords") == "true"
    }
    assert {"Account", "Contact", "Lead", "Opportunity"} <= readable
    fields = {
        text(p, "field"): (text(p, "readable"), text(p, "editable"))
        for p in permset.findall("md:fieldPermissions", NS)
    }
    assert fields["Task.Relay_Key__c"] == ("true", "true")
    modify_all = [
        p for p in permset.findall("md:objectPermissions", NS) if text(p, "allowDelete") == "true"
    ]
    assert modify_all == []  # Relay never deletes records


def test_connected_app_is_jwt_ready_and_narrow() -> None:
    """Scopes Api and RefreshToken only, admin-approved users, a certificate to replace."""
    app = parse(SOURCE / "connectedApps" / "Relay.connectedApp-meta.xml")
    oauth = app.find("md:oauthConfig", NS)
    assert oauth is not None
    assert sorted(s.text or "" for s in oauth.findall("md:scopes", NS)) == ["Api", "RefreshToken"]
    assert text(oauth, "isAdminApproved") == "true"
    certificate = text(oauth, "certificate")
    assert certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert "REPLACE-WITH" in certificate  # a placeholder: no real certificate is shipped
