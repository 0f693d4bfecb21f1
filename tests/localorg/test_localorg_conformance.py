"""Conformance: local org response bodies, key for key, against Salesforce's doc examples.

Each example is pasted from the REST API Developer Guide page named next to it. Values
differ (ids, names, counts); keys, nesting and value types must not.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql

from tests.support.localorg import RunningOrg

# "Execute a SOQL Query" (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
# api_rest/dome_query.htm), example response body.
QUERY_EXAMPLE: dict[str, Any] = {
    "done": True,
    "totalSize": 14,
    "records": [
        {
            "attributes": {
                "type": "Account",
                "url": "/services/data/v63.0/sobjects/Account/001D000000IRFmaIAH",
            },
            "Name": "Test 1",
        },
        {
            "attributes": {
                "type": "Account",
                "url": "/services/data/v63.0/sobjects/Account/001D000000IomazIAB",
            },
            "Name": "Test 2",
        },
    ],
}
# "Query" (api_rest/resources_query.htm, v60.0 docs), example response body: a first
# page with a query locator.
QUERY_PAGE_EXAMPLE: dict[str, Any] = {
    "totalSize": 3222,
    "done": False,
    "nextRecordsUrl": "/services/data/v60.0/query/01gRO0000016PIAYA2-500",
    "records": [
        {
            "attributes": {
                "type": "Contact",
                "url": "/services/data/v60.0/sobjects/Contact/003RO0000035WQgYAM",
            },
            "Id": "003RO0000035WQgYAM",
            "Name": "John Smith",
        }
    ],
}
# "Composite Subrequest Result" (api_rest/resources_composite_subrequest_result.htm,
# v55.0 docs): a successful create, and a failed one (its body is the REST error shape).
SUBREQUEST_CREATED_EXAMPLE: dict[str, Any] = {
    "body": {"id": "001R00000064wdtIAA", "success": True, "errors": []},
    "httpHeaders": {"Location": "/services/data/v55.0/sobjects/Account/001R00000064wdtIAA"},
    "httpStatusCode": 201,
    "referenceId": "refAccount",
}
SUBREQUEST_ERROR_EXAMPLE: dict[str, Any] = {
    "body": [
        {
            "message": "Email: invalid email address: Not a real email address",
            "errorCode": "INVALID_EMAIL_ADDRESS",
            "fields": ["Email"],
        }
    ],
    "httpHeaders": {},
    "httpStatusCode": 400,
    "referenceId": "badContact",
}
# "List Organization Limits" (api_rest/dome_limits.htm, v29.0 docs), example response
# body (first entries).
LIMITS_EXAMPLE: dict[str, Any] = {
    "ConcurrentAsyncGetReportInstances": {"Remaining": 200, "Max": 200},
    "ConcurrentSyncReportRuns": {"Remaining": 20, "Max": 20},
    "DailyApiRequests": {"Remaining": 14998, "Max": 15000},
    "DailyAsyncApexExecutions": {"Remaining": 250000, "Max": 250000},
    "DailyBulkApiRequests": {"Remaining": 5000, "Max": 5000},
    "DataStorageMB": {"Remaining": 1073, "Max": 1073},
    "FileStorageMB": {"Remaining": 1073, "Max": 1073},
}
# "sObject Collections" create (api_rest/resources_composite_sobjects_collections_create
# .htm): one SaveResult per record; failures carry {statusCode, message, fields}. The
# allOrNone message is the one the SOAP AllOrNoneHeader page describes ("their errors
# fields indicate that they were rolled back").
COLLECTION_SUCCESS_EXAMPLE: dict[str, Any] = {
    "id": "001RM000003oLnnYAE",
    "success": True,
    "errors": [],
}
COLLECTION_FAILURE_EXAMPLE: dict[str, Any] = {
    "success": False,
    "errors": [
        {
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "message": "Record rolled back because not all records were valid and the "
            "request was using AllOrNone header",
            "fields": [],
        }
    ],
}

# "Get a List of Updated Records Within a Given Timeframe" (api_rest/dome_get_updated.htm)
# and "... Deleted Records ..." (api_rest/dome_get_deleted.htm), example response bodies.
UPDATED_EXAMPLE: dict[str, Any] = {
    "ids": ["a00D0000008pQR5IAM", "a00D0000008pQRGIA2", "a00D0000008pQRFIA2"],
    "latestDateCovered": "2013-05-08T21:20:00.000+0000",
}
DELETED_EXAMPLE: dict[str, Any] = {
    "deletedRecords": [{"id": "a00D0000008pQRAIA2", "deletedDate": "2013-05-07T22:07:19.000+0000"}],
    "earliestDateAvailable": "2013-05-03T15:57:00.000+0000",
    "latestDateCovered": "2013-05-08T21:20:00.000+0000",
}
# The timestamps of both examples: whole seconds, "+0000"; latestDateCovered and
# earliestDateAvailable to the minute.
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$")
_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000\+0000$")


def assert_same_shape(actual: Any, example: Any, path: str = "$") -> None:
    """Same keys at every level, same JSON types; list items compared to the first example."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert set(actual) == set(example), f"{path}: keys {sorted(actual)} != {sorted(example)}"
        for key, value in example.items():
            assert_same_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        if example:
            for index, item in enumerate(actual):
                assert_same_shape(item, example[0], f"{path}[{index}]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), f"{path}: expected a boolean, got {actual!r}"
    elif isinstance(example, int):
        assert isinstance(actual, int), f"{path}: expected a number, got {actual!r}"
        assert not isinstance(actual, bool), f"{path}: expected a number, got {actual!r}"
    elif isinstance(example, str):
        assert isinstance(actual, str), f"{path}: expected a string, got {actual!r}"


def test_query_matches_the_docs_example(sf: Salesforce) -> None:
    """A one-page query result has the docs' keys: done, totalSize, records[attributes]."""
    name = f"Conformance {uuid.uuid4().hex[:8]}"
    sf.Account.create({"Name": name})
    result = sf.query(format_soql("SELECT Name FROM Account WHERE Name = {}", name))
    assert_same_shape(result, QUERY_EXAMPLE)


def test_query_page_matches_the_docs_example(sf: Salesforce) -> None:
    """A paged query has nextRecordsUrl, as in the Query resource's example."""
    tag = f"confpage-{uuid.uuid4().hex[:8]}"
    records = [{"attributes": {"type": "Contact"}, "LastName": tag} for _ in range(201)]
    sf.restful("composite/sobjects", method="POST", json={"records": records[:200]})
    sf.Contact.create({"LastName": tag})
    result = sf.query(
        format_soql("SELECT Id, Name FROM Contact WHERE LastName = {}", tag),
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert_same_shape(result, QUERY_PAGE_EXAMPLE)


def test_composite_subrequest_results_match_the_docs_examples(sf: Salesforce) -> None:
    """Composite subrequest results, success and failure, have the docs' keys."""
    response = sf.restful(
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Account",
                    "referenceId": "refAccount",
                    "body": {"Name": "Conformance"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Task",
                    "referenceId": "badTask",
                    "body": {"Subject": "x" * 300},
                },
            ]
        },
    )
    assert set(response) == {"compositeResponse"}
    created, failed = response["compositeResponse"]
    assert_same_shape(created, SUBREQUEST_CREATED_EXAMPLE)
    assert_same_shape(failed, SUBREQUEST_ERROR_EXAMPLE)


def test_error_body_matches_the_docs_example(sf: Salesforce, local_org: RunningOrg) -> None:
    """A REST data error is the same array of {message, errorCode, fields}."""
    response = local_org.admin.post(
        local_org.url("/services/data/v62.0/sobjects/Task"), json={"Subject": "x" * 300}
    )
    assert response.status_code == 400
    assert_same_shape(response.json(), SUBREQUEST_ERROR_EXAMPLE["body"])


def test_limits_match_the_docs_example(sf: Salesforce) -> None:
    """Limits entries are {Max, Remaining}; the ones the example shows are all present."""
    limits = sf.limits()
    assert set(LIMITS_EXAMPLE) <= set(limits)
    assert_same_shape({k: limits[k] for k in LIMITS_EXAMPLE}, LIMITS_EXAMPLE)
    for name, entry in limits.items():
        assert_same_shape(entry, LIMITS_EXAMPLE["DailyApiRequests"], name)


def test_collection_results_match_the_docs_examples(sf: Salesforce) -> None:
    """SaveResults of sObject Collections, success and allOrNone failure."""
    ok = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "Conformance"}]},
    )
    assert_same_shape(ok, [COLLECTION_SUCCESS_EXAMPLE])
    rolled = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Conformance"},
                {"attributes": {"type": "Account"}},
            ],
        },
    )
    assert_same_shape(rolled, [COLLECTION_FAILURE_EXAMPLE])
    assert rolled[0] == COLLECTION_FAILURE_EXAMPLE


def test_updated_and_deleted_match_the_docs_examples(sf: Salesforce) -> None:
    """sObject Get Updated / Get Deleted bodies: the examples' keys, types and stamp forms."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    kept = sf.Task.create({"Subject": f"kept-{uuid.uuid4().hex[:8]}"})["id"]
    gone = sf.Task.create({"Subject": f"gone-{uuid.uuid4().hex[:8]}"})["id"]
    sf.Task.delete(gone)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    updated = sf.Task.updated(start, end)
    assert_same_shape(updated, UPDATED_EXAMPLE)
    assert kept in updated["ids"]
    assert _MINUTE.match(updated["latestDateCovered"])
    deleted = sf.Task.deleted(start, end)
    assert_same_shape(deleted, DELETED_EXAMPLE)
    assert gone in [d["id"] for d in deleted["deletedRecords"]]
    assert all(_STAMP.match(d["deletedDate"]) for d in deleted["deletedRecords"])
    assert _MINUTE.match(deleted["earliestDateAvailable"])
    assert _MINUTE.match(deleted["latestDateCovered"])
