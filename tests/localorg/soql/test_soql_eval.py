"""Evaluating SOQL against the in-memory catalog: operators, case, ids, relationships,
semi-joins, ORDER BY, LIMIT/OFFSET, COUNT() and the REST record shape."""

from __future__ import annotations

import pytest

from relay.localorg.soql import parse_soql, run_query
from tests.localorg.soql.soql_memory_catalog import MemoryCatalog, Run


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'acme'", ["Acme"]),
        ("Name != 'ACME'", ["globex"]),
        ("Name <> 'acme'", ["globex"]),
        ("Name < 'B'", ["Acme"]),
        ("Name <= 'acme'", ["Acme"]),
        ("Name > 'acme'", ["globex"]),
        ("Name >= 'GLOBEX'", ["globex"]),
        ("Name LIKE 'ac%'", ["Acme"]),
        ("Name LIKE '_LOBE_'", ["globex"]),
        ("Name LIKE 'acm'", []),
        ("Name IN ('ACME', 'nobody')", ["Acme"]),
        ("Name NOT IN ('acme')", ["globex"]),
        ("NOT Name = 'acme'", ["globex"]),
        ("Name = 'acme' OR Name = 'globex'", ["Acme", "globex"]),
        ("Name = 'acme' AND OwnerId = null", []),
        ("(Name = 'acme' OR Name = 'x') AND OwnerId != null", ["Acme"]),
        ("NOT (Name = 'acme' OR Name = 'globex')", []),
        ("name = 'acme' and not (name like 'g%')", ["Acme"]),
    ],
)
def test_string_operators(run: Run, where: str, expected: list[str]) -> None:
    """Every comparison and logical operator, with case-insensitive string matching."""
    result = run(f"SELECT Name FROM Account WHERE {where}")
    assert [r["Name"] for r in result.records] == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount > 500", ["Acme renewal"]),
        ("Amount <= 250.5", ["Acme pilot"]),
        ("Amount IN (1000, 1)", ["Acme renewal"]),
        ("IsClosed = TRUE", ["Acme pilot"]),
        ("IsClosed = false", ["Acme renewal"]),
        ("IsClosed != true", ["Acme renewal"]),
        ("CloseDate < 2024-03-01", ["Acme pilot"]),
        ("CloseDate = 2024-03-20", ["Acme renewal"]),
        ("StageName = 'closed won'", ["Acme pilot"]),
        ("Account.Name = 'ACME' AND IsClosed = false", ["Acme renewal"]),
    ],
)
def test_typed_comparisons(run: Run, where: str, expected: list[str]) -> None:
    """Numbers, booleans (any case), dates and picklists compare by their own types."""
    result = run(f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Name DESC")
    assert [r["Name"] for r in result.records] == expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (r"'o\'brien@example.com'", ["Pat O'Brien"]),
        (r"'O\'BRIEN@EXAMPLE.COM'", ["Pat O'Brien"]),
        (r"'back\\slash@example.com'", ["Bo Back"]),
        (r"'back\\SLASH@example.com'", ["Bo Back"]),
        (r"'backslash@example.com'", []),
    ],
)
def test_escaped_addresses_match(run: Run, literal: str, expected: list[str]) -> None:
    """Addresses with a quote or a backslash, escaped as SOQL requires, find their contact."""
    result = run(f"SELECT Name FROM Contact WHERE Email = {literal}")
    assert [r["Name"] for r in result.records] == expected


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("'%o\\'brien%'", True),
        ("'o\\'brien@example.com'", True),
        ("'o\\'brien@example_com'", True),
        ("'o\\'brien@example\\_com'", False),
        ("'%\\%%'", False),
        ("'%\\\\%'", False),
    ],
)
def test_like_escapes(run: Run, pattern: str, matches: bool) -> None:
    r"""LIKE: _ is one character, \_ and \% are literal, \\ is a backslash."""
    result = run(f"SELECT Id FROM Contact WHERE Email LIKE {pattern} AND LastName = 'O\\'Brien'")
    assert (result.total_size == 1) is matches


def test_like_backslash_and_percent_literals(org: MemoryCatalog, run: Run) -> None:
    r"""A LIKE pattern can match a literal backslash and a literal percent sign."""
    org.add("Account", Name="100% Pure")
    assert [
        r["Name"] for r in run(r"SELECT Name FROM Account WHERE Name LIKE '100\%%'").records
    ] == ["100% Pure"]
    result = run(r"SELECT Name FROM Contact WHERE Email LIKE 'back\\%'")
    assert [r["Name"] for r in result.records] == ["Bo Back"]


def test_record_shape_with_parent_and_null_parent(run: Run) -> None:
    """Records carry attributes, SELECT-ordered canonical keys, nested parents or null."""
    result = run(
        "select email, ACCOUNT.name, id, Account.Owner.Email FROM contact "
        "WHERE LastName IN ('able', 'o\\'brien') ORDER BY LastName"
    )
    alice, obrien = result.records
    assert list(alice) == ["attributes", "Email", "Account", "Id"]
    assert alice["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v62.0/sobjects/Contact/{alice['Id']}",
    }
    account = alice["Account"]
    assert list(account) == ["attributes", "Name", "Owner"]
    assert account["attributes"]["type"] == "Account"
    assert account["attributes"]["url"].startswith("/services/data/v62.0/sobjects/Account/001")
    assert account["Name"] == "Acme"
    assert account["Owner"]["Email"] == "ada@corp.example"
    assert account["Owner"]["attributes"]["type"] == "User"
    assert obrien["Account"] is None
    assert result.total_size == 2


def test_api_version_goes_into_urls(org: MemoryCatalog) -> None:
    """The api_version argument sets the version in every attributes.url."""
    result = run_query(
        parse_soql("SELECT Id, Account.Name FROM Contact WHERE AccountId != null"),
        org,
        include_deleted=False,
        api_version="58.0",
    )
    urls = [r["attributes"]["url"] for r in result.records]
    urls += [r["Account"]["attributes"]["url"] for r in result.records]
    assert urls
    assert all(url.startswith("/services/data/v58.0/sobjects/") for url in urls)


def test_polymorphic_who_and_what(run: Run) -> None:
    """Who and What follow the id's key prefix to Contact, Lead, Account or Opportunity."""
    result = run("SELECT Subject, Who.Name, What.Name FROM Task ORDER BY Subject")
    shapes = {
        r["Subject"]: (
            r["Who"] and (r["Who"]["attributes"]["type"], r["Who"]["Name"]),
            r["What"] and (r["What"]["attributes"]["type"], r["What"]["Name"]),
        )
        for r in result.records
    }
    assert shapes == {
        "Call": (("Contact", "Alice Able"), ("Opportunity", "Acme renewal")),
        "Email": (("Lead", "Lee Lead"), None),
        "Note": (None, ("Account", "Acme")),
    }
    leads = run("SELECT Subject FROM Task WHERE Who.Name = 'lee lead'")
    assert [r["Subject"] for r in leads.records] == ["Email"]


def test_ids_match_in_15_and_18_character_forms(org: MemoryCatalog, run: Run) -> None:
    """An 18-character id in any case, or its 15-character form, selects the record."""
    alice = run("SELECT Id FROM Contact WHERE LastName = 'Able'").records[0]["Id"]
    for literal in (alice, alice[:15], alice.lower(), alice.upper()):
        result = run(f"SELECT Name FROM Contact WHERE Id = '{literal}'")
        assert [r["Name"] for r in result.records] == ["Alice Able"], literal
    assert run(f"SELECT Id FROM Contact WHERE Id = '{alice[:15].lower()}'").total_size == 0
    result = run(
        "SELECT Name FROM Opportunity WHERE Id IN (SELECT OpportunityId FROM "
        f"OpportunityContactRole WHERE ContactId = '{alice[:15]}')"
    )
    assert [r["Name"] for r in result.records] == ["Acme renewal"]


def test_semi_join_and_anti_join(run: Run) -> None:
    """IN (SELECT ...) keeps rows whose id the subquery selects; NOT IN drops them."""
    semi = run(
        "SELECT Name FROM Contact WHERE Id IN (SELECT ContactId FROM OpportunityContactRole "
        "WHERE Opportunity.IsClosed = false) "
    )
    assert [r["Name"] for r in semi.records] == ["Alice Able"]
    anti = run(
        "SELECT Name FROM Contact WHERE Id NOT IN (SELECT ContactId FROM "
        "OpportunityContactRole) ORDER BY Name"
    )
    assert [r["Name"] for r in anti.records] == ["Bo Back"]
    opps = run(
        "SELECT Name FROM Opportunity WHERE IsClosed = false AND Id IN "
        "(SELECT OpportunityId FROM OpportunityContactRole WHERE Contact.Email = "
        "'ALICE@acme.example')"
    )
    assert [r["Name"] for r in opps.records] == ["Acme renewal"]


def test_deleted_rows_only_with_include_deleted(run: Run) -> None:
    """Soft-deleted rows appear only for queryAll (include_deleted=True)."""
    query = "SELECT Name, IsDeleted FROM Contact WHERE Email = 'gone@example.com'"
    assert run(query).total_size == 0
    assert [r["IsDeleted"] for r in run(query, include_deleted=True).records] == [True]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Email", [None, "Alice@Acme.example", "back\\slash@example.com", "o'brien@example.com"]),
        (
            "Email ASC NULLS LAST",
            ["Alice@Acme.example", "back\\slash@example.com", "o'brien@example.com", None],
        ),
        (
            "Email DESC",
            ["o'brien@example.com", "back\\slash@example.com", "Alice@Acme.example", None],
        ),
        (
            "Email DESC NULLS FIRST",
            [None, "o'brien@example.com", "back\\slash@example.com", "Alice@Acme.example"],
        ),
    ],
)
def test_order_by_nulls(
    org: MemoryCatalog, run: Run, order: str, expected: list[str | None]
) -> None:
    """ASC puts nulls first and DESC last by default; NULLS FIRST/LAST overrides; text
    sorts case-insensitively ('Alice' before 'back')."""
    org.add("Contact", LastName="Nil", Name="No Mail")
    result = run(f"SELECT Email FROM Contact ORDER BY {order}")
    assert [r["Email"] for r in result.records] == expected


def test_order_by_relationship_then_field(run: Run) -> None:
    """ORDER BY a parent's field, then a second key, with null parents first."""
    result = run("SELECT Name FROM Contact ORDER BY Account.Name DESC NULLS FIRST, Name")
    assert [r["Name"] for r in result.records] == ["Pat O'Brien", "Alice Able", "Bo Back"]


def test_limit_offset_and_count(run: Run) -> None:
    """LIMIT and OFFSET slice the ordered rows; COUNT() returns only the size."""
    page = run("SELECT Name FROM Contact ORDER BY Name LIMIT 1 OFFSET 1")
    assert [r["Name"] for r in page.records] == ["Bo Back"]
    assert page.total_size == 1
    count = run("SELECT COUNT() FROM Contact WHERE Email LIKE '%example.com'")
    assert (count.total_size, count.records) == (2, [])
    assert run("select count ( ) from Contact").total_size == 3
    assert run("SELECT Name FROM Contact LIMIT 0").records == []


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", ["Alice Able"]),
        ("CreatedDate = YESTERDAY", ["Pat O'Brien"]),
        ("CreatedDate = LAST_N_DAYS:1", ["Alice Able", "Pat O'Brien"]),
        ("CreatedDate > YESTERDAY", ["Alice Able"]),
        ("CreatedDate < TODAY", ["Bo Back", "Pat O'Brien"]),
        ("CreatedDate = THIS_WEEK", ["Alice Able", "Pat O'Brien"]),
        ("CreatedDate = LAST_MONTH", ["Bo Back"]),
        ("CreatedDate >= THIS_MONTH", ["Alice Able", "Pat O'Brien"]),
        ("CreatedDate <= LAST_WEEK", ["Bo Back"]),
        ("CreatedDate != TODAY", ["Bo Back", "Pat O'Brien"]),
        ("CreatedDate > 2024-03-12T23:59:58Z", ["Alice Able", "Pat O'Brien"]),
        ("CreatedDate >= 2024-03-13T08:00:00.000+00:00", ["Alice Able"]),
        ("CreatedDate < 2024-03-13T09:00:00+01:00", ["Bo Back", "Pat O'Brien"]),
    ],
)
def test_datetime_literals(run: Run, where: str, expected: list[str]) -> None:
    """Relative date literals are UTC day ranges around NOW (Wed 13 March 2024)."""
    result = run(f"SELECT Name FROM Contact WHERE {where} ORDER BY Name")
    assert [r["Name"] for r in result.records] == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("ActivityDate = TODAY", []),
        ("ActivityDate = YESTERDAY", ["Email"]),
        ("ActivityDate = TOMORROW", ["Note"]),
        ("ActivityDate = NEXT_N_DAYS:1", ["Note"]),
        ("ActivityDate = LAST_N_DAYS:2", ["Email"]),
        ("ActivityDate = THIS_WEEK", ["Email", "Note"]),
        ("ActivityDate = 2024-03-14", ["Note"]),
        ("ActivityDate = null", ["Call"]),
    ],
)
def test_date_literals_on_date_fields(run: Run, where: str, expected: list[str]) -> None:
    """Date fields take date values and relative literals as ranges of days."""
    result = run(f"SELECT Subject FROM Task WHERE {where} ORDER BY Subject")
    assert [r["Subject"] for r in result.records] == expected


def test_equals_hint_reaches_the_catalog(org: MemoryCatalog, run: Run) -> None:
    """Top-level AND-ed '=' and IN conditions reach catalog.rows as an index hint."""
    alice = run("SELECT Id FROM Contact WHERE LastName = 'Able'").records[0]["Id"]
    org.hints.clear()
    result = run(
        f"SELECT Email FROM Contact WHERE Email IN ('ALICE@acme.example', 'x@y.z') "
        f"AND Id = '{alice[:15]}' AND Name LIKE 'A%'"
    )
    assert [r["Email"] for r in result.records] == ["Alice@Acme.example"]
    assert org.hints == [("Contact", {"Email": ["ALICE@acme.example", "x@y.z"], "Id": [alice]})]
    org.hints.clear()
    run("SELECT Id FROM Contact WHERE Email = 'a@b.c' OR Name = 'x'")
    assert org.hints == [("Contact", None)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Relay_Key__c = 'Key-A'", ["Call"]),
        ("Relay_Key__c = 'key-a'", []),
        ("Relay_Key__c IN ('KEY-A', 'Key-A')", ["Call"]),
        ("Relay_Key__c != 'key-a'", ["Call", "Email", "Note"]),
        ("Relay_Key__c LIKE 'key%'", ["Call"]),
    ],
)
def test_case_sensitive_field(run: Run, where: str, expected: list[str]) -> None:
    """A case-sensitive field (an external id) compares exactly; LIKE still folds case."""
    result = run(f"SELECT Subject FROM Task WHERE {where} ORDER BY Subject")
    assert [r["Subject"] for r in result.records] == expected


def test_run_query_accepts_text(org: MemoryCatalog) -> None:
    """run_query parses a string itself, so callers may pass the SOQL text directly."""
    result = run_query("SELECT Name FROM Account WHERE Name = 'ACME'", org, include_deleted=False)
    assert [r["Name"] for r in result.records] == ["Acme"]
