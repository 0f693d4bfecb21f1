"""Describe and record JSON shapes (REST API Developer Guide: "Describe Global",
"sObject Describe", "sObject Rows"). Pure functions of the schema and rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from relay.localorg.schema_model import SOAP_TYPES, FieldDef, ObjectDef, label_for


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def _object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "activateable": False,
        "createable": obj.createable,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": obj.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label or obj.name,
        "labelPlural": obj.label_plural or obj.name,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact", "Lead"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": obj.queryable,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.name not in ("TaskRelation", "OpportunityContactRole"),
        "triggerable": True,
        "undeletable": obj.deletable,
        "updateable": obj.updateable,
        "urls": _urls(obj, version),
    }


def describe_global(objects: Iterable[ObjectDef], version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_object_summary(o, version) for o in objects],
    }


def _picklist(fd: FieldDef) -> list[dict[str, Any]]:
    return [
        {
            "active": True,
            "defaultValue": value == fd.default,
            "label": value,
            "validFor": None,
            "value": value,
        }
        for value in fd.picklist
    ]


def describe_field(fd: FieldDef) -> dict[str, Any]:
    """One entry of ``fields`` in an sObject Describe result."""
    is_text = fd.type not in (
        "boolean",
        "int",
        "double",
        "currency",
        "percent",
        "date",
        "datetime",
        "base64",
    )
    return {
        "aggregatable": fd.filterable,
        "autoNumber": False,
        "byteLength": fd.length * 3 if is_text else 0,
        "calculated": False,
        "caseSensitive": fd.case_sensitive,
        "createable": fd.createable,
        "custom": fd.custom,
        "defaultValue": fd.default if fd.type == "boolean" else None,
        "defaultedOnCreate": fd.defaulted_on_create,
        "dependentPicklist": False,
        "digits": 9 if fd.type == "int" else 0,
        "externalId": fd.external_id,
        "filterable": fd.filterable,
        "groupable": fd.filterable and fd.type not in ("double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": fd.id_lookup,
        "label": fd.label or label_for(fd.name),
        "length": fd.length if is_text else 0,
        "name": fd.name,
        "nameField": fd.name_field,
        "namePointing": len(fd.reference_to) > 1,
        "nillable": fd.nillable,
        "permissionable": fd.nillable and fd.createable,
        "picklistValues": _picklist(fd),
        "polymorphicForeignKey": len(fd.reference_to) > 1,
        "precision": fd.precision,
        "referenceTo": list(fd.reference_to),
        "relationshipName": fd.relationship_name,
        "restrictedPicklist": fd.restricted,
        "scale": fd.scale,
        "soapType": SOAP_TYPES[fd.type],
        "sortable": fd.sortable,
        "type": fd.type,
        "unique": fd.unique,
        "updateable": fd.updateable,
    }


def describe_object(obj: ObjectDef, hidden: frozenset[str], version: str) -> dict[str, Any]:
    return {
        **_object_summary(obj, version),
        "childRelationships": [],
        "fields": [describe_field(f) for f in obj.fields if f.name not in hidden],
        "recordTypeInfos": [],
        "supportedScopes": [{"label": "All", "name": "everything"}],
    }


def record_url(sobject: str, record_id: str, version: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


def record_shape(
    obj: ObjectDef, row: Mapping[str, Any], fields: Iterable[FieldDef], version: str
) -> dict[str, Any]:
    """The REST record: attributes, then each field. A base64 field is returned as the
    URL of its blob (REST API Developer Guide, "Get Blob Data")."""
    record: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(obj.name, row["Id"], version)}
    }
    for fd in fields:
        value = row.get(fd.name)
        if fd.type == "base64" and value is not None:
            value = f"{record_url(obj.name, row['Id'], version)}/{fd.name}"
        record[fd.name] = value
    return record
