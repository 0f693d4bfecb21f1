"""The sender table (relay.smtp.sender_checks.decide) as rows: source x mode x facts ->
outcome. docs/operations.md, "Security model", shows the same table."""

from __future__ import annotations

import pytest

from relay.smtp.sender_checks import (
    Decision,
    Dmarc,
    Evidence,
    Refusal,
    Source,
    Token,
    decide,
    needs_dmarc,
)

D, T, N = Source.DIRECT, Source.TRUSTED, Source.INBOUND
FROM_REP = Evidence(from_rep=True, envelope_rep=True)
STRANGER = Evidence()


def ok(auth: str) -> Decision:
    return Decision(auth=auth)


def no(refusal: Refusal) -> Decision:
    return Decision(refusal=refusal)


def facts(**fields: object) -> Evidence:
    values = {"from_rep": True, "envelope_rep": True, "dmarc_domain": "acme.example"} | fields
    return Evidence(**values)  # type: ignore[arg-type]


ROWS = [
    # dmarc: an aligned pass for a rep's From; fail is certain; temperror retries.
    (D, "dmarc", facts(dmarc=Dmarc.PASS), ok("dmarc:acme.example")),
    (D, "dmarc", facts(dmarc=Dmarc.FAIL), no(Refusal.DMARC_FAIL)),
    (D, "dmarc", facts(dmarc=Dmarc.TEMPERROR), no(Refusal.DNS_TEMPORARY)),
    (D, "dmarc", facts(dmarc=Dmarc.NONE), no(Refusal.NOT_AUTHENTICATED)),
    (D, "dmarc", facts(dmarc=Dmarc.PASS, from_rep=False), no(Refusal.UNKNOWN_SENDER)),
    (D, "dmarc", facts(dmarc=Dmarc.NONE, token=Token.OWNER_SENT), no(Refusal.NOT_AUTHENTICATED)),
    # personal_address: the token's rep sent it; a forged token or another sender is certain.
    (D, "personal_address", facts(token=Token.OWNER_SENT), ok("personal_address")),
    (D, "personal_address", facts(token=Token.FORGED), no(Refusal.UNKNOWN_PERSONAL)),
    (D, "personal_address", facts(token=Token.OTHER_SENT), no(Refusal.NOT_ACCEPTABLE)),
    (D, "personal_address", facts(dmarc=Dmarc.PASS), no(Refusal.PERSONAL_REQUIRED)),
    # either: whichever proves it; a certain failure of either refuses.
    (D, "either", facts(token=Token.OWNER_SENT), ok("personal_address")),
    (D, "either", facts(dmarc=Dmarc.PASS), ok("dmarc:acme.example")),
    (D, "either", facts(dmarc=Dmarc.FAIL), no(Refusal.DMARC_FAIL)),
    (D, "either", facts(dmarc=Dmarc.TEMPERROR), no(Refusal.DNS_TEMPORARY)),
    (D, "either", facts(dmarc=Dmarc.NONE), no(Refusal.NOT_AUTHENTICATED)),
    (D, "either", facts(token=Token.FORGED, dmarc=Dmarc.PASS), no(Refusal.UNKNOWN_PERSONAL)),
    (D, "either", facts(token=Token.OWNER_SENT, dmarc=Dmarc.TEMPERROR), ok("personal_address")),
    # trusted_only: a direct client never; the server in front for its own users.
    (D, "trusted_only", FROM_REP, no(Refusal.TRUSTED_ONLY)),
    (T, "trusted_only", facts(from_rep=False), ok("trusted:envelope")),
    (T, "trusted_only", facts(envelope_rep=False), no(Refusal.UNKNOWN_SENDER)),
    # none: an acceptable From is enough (never the default).
    (D, "none", FROM_REP, ok("none")),
    (D, "none", STRANGER, no(Refusal.UNKNOWN_SENDER)),
    (D, "none", facts(token=Token.OWNER_SENT), ok("personal_address")),
    (D, "none", facts(token=Token.FORGED), no(Refusal.UNKNOWN_PERSONAL)),
    # a trusted network is no blanket pass: the same checks, on what it reports.
    (T, "either", facts(from_rep=False, envelope_rep=False), no(Refusal.NOT_AUTHENTICATED)),
    (T, "dmarc", facts(dmarc=Dmarc.FAIL), no(Refusal.DMARC_FAIL)),
    (T, "dmarc", facts(dmarc=Dmarc.PASS), ok("dmarc:acme.example")),
    (T, "none", STRANGER, no(Refusal.UNKNOWN_SENDER)),
    # a named inbound source: its copies, whoever wrote them, under every mode.
    *[(N, mode, Evidence(source_name="auth:journal"), ok("source:auth:journal"))
      for mode in ("either", "dmarc", "personal_address", "trusted_only", "none")],
    # the rep snapshot never synced: "a rep's address" fails open, authentication does not.
    (D, "dmarc", Evidence(synced=False, dmarc=Dmarc.PASS, dmarc_domain="x.example"),
     ok("dmarc:x.example")),
    (D, "dmarc", Evidence(synced=False, dmarc=Dmarc.FAIL), no(Refusal.DMARC_FAIL)),
    (D, "either", Evidence(synced=False, dmarc=Dmarc.NONE), no(Refusal.NOT_AUTHENTICATED)),
    (D, "trusted_only", Evidence(synced=False), no(Refusal.TRUSTED_ONLY)),
    # ...but a personal address nobody owns is never taken on trust: retry after a sync.
    (D, "either", Evidence(synced=False, token=Token.UNSYNCED), no(Refusal.REPS_NOT_SYNCED)),
    (T, "personal_address", Evidence(synced=False, token=Token.UNSYNCED),
     no(Refusal.REPS_NOT_SYNCED)),
    # dmarc proves the one From address, and records it.
    (D, "either", facts(dmarc=Dmarc.PASS, author="alice@acme.example"),
     ok("dmarc:alice@acme.example")),
]  # fmt: skip


@pytest.mark.parametrize(("source", "mode", "evidence", "expected"), ROWS)
def test_table_row(source: Source, mode: str, evidence: Evidence, expected: Decision) -> None:
    """Each row of the table gives its outcome."""
    assert decide(source, mode, evidence) == expected


def test_only_dns_and_the_first_sync_are_temporary() -> None:
    """451 only for a DNS temperror or a rep snapshot never synced: every other refusal
    is a certain 550."""
    refused = [decide(source, mode, e) for source, mode, e, _ in ROWS]
    temporary = {d.refusal for d in refused if d.temporary}
    assert temporary == {Refusal.DNS_TEMPORARY, Refusal.REPS_NOT_SYNCED}
    assert any(d.refusal is not None and not d.temporary for d in refused)


@pytest.mark.parametrize(
    ("source", "mode", "token", "needed"),
    [
        (D, "either", Token.NONE, True),
        (D, "either", Token.OWNER_SENT, False),  # the personal address decides
        (D, "either", Token.FORGED, False),
        (D, "dmarc", Token.OWNER_SENT, True),
        (D, "personal_address", Token.NONE, False),
        (T, "trusted_only", Token.NONE, False),
        (N, "dmarc", Token.NONE, False),
        (D, "none", Token.NONE, False),
    ],
)
def test_dns_is_asked_only_when_it_can_change_the_outcome(
    source: Source, mode: str, token: Token, needed: bool
) -> None:
    assert needs_dmarc(source, mode, token) is needed
