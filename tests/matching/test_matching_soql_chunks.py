"""The directory lookup's queries: escaped values, URIs under 16,384 bytes, at most five
queries per composite call."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from relay.salesforce.directory import MAX_URI_BYTES, _queries, _query_uri

VERSION = "62.0"


def _values_in(soql: str) -> list[str]:
    """The quoted values of the first IN list, unescaped (SOQL escapes \\ and ')."""
    inside = soql.split(" IN (", 1)[1].split(")", 1)[0]
    values, current, escaped, quoted = [], "", False, False
    for char in inside:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "'":
            if quoted:
                values.append(current)
                current = ""
            quoted = not quoted
        elif quoted:
            current += char
    return values


def test_quotes_and_backslashes_are_escaped() -> None:
    """Addresses with ' and \\ come back intact from the escaped IN list."""
    emails = ["o'brien@example.com", "back\\slash@example.com", "plain@example.com"]
    contact_query = next(q for q in _queries(emails, [], [], [], VERSION) if q.kind == "Contact")
    assert "'o\\'brien@example.com'" in contact_query.soql
    assert _values_in(contact_query.soql) == emails


def test_long_lists_are_chunked_under_the_uri_limit() -> None:
    """10,000 addresses split into queries whose URIs each stay under 16,384 bytes and
    together cover every address exactly once."""
    emails = [f"person.{i:05d}.o'neil@example-customer.com" for i in range(10_000)]
    queries = [q for q in _queries(emails, [], [], [], VERSION) if q.kind == "Contact"]
    assert len(queries) > 1
    covered: list[str] = []
    for query in queries:
        uri = _query_uri(query.soql, VERSION)
        assert len(uri.encode()) < MAX_URI_BYTES
        assert parse_qs(urlsplit(uri).query)["q"] == [query.soql]
        covered.extend(_values_in(query.soql))
    assert covered == emails
    # Chunks are full: the next value would not have fitted.
    assert len(_query_uri(queries[0].soql, VERSION)) > MAX_URI_BYTES - 200


def test_extra_email_fields_share_the_in_list() -> None:
    """An extra email field adds an OR on the same escaped list, and is selected."""
    [query, *_] = _queries(["a@x.test"], [], [], ["Work_Email__c"], VERSION)
    assert query.soql == (
        "SELECT Id, Email, AccountId, CreatedDate, LastActivityDate, OwnerId, Work_Email__c "
        "FROM Contact WHERE Email IN ('a@x.test') OR Work_Email__c IN ('a@x.test')"
    )


def test_ref_ids_are_queried_by_their_object() -> None:
    """ref: ids are grouped by key prefix; unknown prefixes are not queried."""
    ids = ["006000000000001AAA", "003000000000001AAA", "zzz000000000001AAA"]
    queries = [q.soql for q in _queries([], [], ids, [], VERSION) if q.kind == "Record"]
    assert queries == [
        "SELECT Id FROM Contact WHERE Id IN ('003000000000001AAA')",
        "SELECT Id FROM Opportunity WHERE Id IN ('006000000000001AAA')",
    ]
