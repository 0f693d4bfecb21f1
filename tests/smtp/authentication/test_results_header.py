"""Authentication-Results (RFC 8601): only our MTA's topmost header is read; others are stripped."""

from __future__ import annotations

from relay.smtp.authentication import reported_verdict, strip_authentication_results

OURS = "mx.relay.example"
BODY = b"Hello Bob.\r\n\r\nAuthentication-Results: mx.relay.example; dmarc=pass\r\n"


def received(*results: str, folded: bool = False) -> bytes:
    """A message whose header carries ``results`` top first, among other fields."""
    fields = [b"Received: from mx.acme.example by mx.relay.example; Sun, 6 Dec 2026\r\n"]
    for value in results:
        if folded:
            value = value.replace("; ", ";\r\n\t")
        fields.append(f"Authentication-Results: {value}\r\n".encode())
    fields.append(b"From: Alice <alice@acme.example>\r\nSubject: Renewal\r\n\r\n")
    return b"".join(fields) + BODY


def test_our_topmost_header_is_read() -> None:
    """Ours on top, folded over lines: its results become the verdict, attributed to our id."""
    raw = received(
        f"{OURS}; spf=pass smtp.mailfrom=bounces@acme.example; "
        "dkim=pass header.d=acme.example header.s=sel; dmarc=pass header.from=acme.example",
        folded=True,
    )
    verdict = reported_verdict(raw, OURS)
    assert verdict is not None
    assert verdict.source == f"authserv:{OURS}"
    assert (verdict.from_domain, verdict.dmarc, verdict.aligned_pass) == (
        "acme.example",
        "pass",
        True,
    )
    assert (verdict.spf, verdict.spf_domain) == ("pass", "acme.example")
    assert (verdict.dkim, verdict.dkim_domains) == ("pass", ("acme.example",))


def test_a_forged_header_below_ours_is_ignored() -> None:
    """A sender's own 'dmarc=pass' under ours with our id does not count: the topmost does."""
    raw = received(
        f"{OURS}; spf=fail smtp.mailfrom=mallory@evil.example; dkim=none; dmarc=fail",
        f"{OURS}; spf=pass smtp.mailfrom=alice@acme.example; dmarc=pass",
    )
    verdict = reported_verdict(raw, OURS)
    assert verdict is not None
    assert (verdict.dmarc, verdict.spf, verdict.aligned_pass) == ("fail", "fail", False)


def test_a_header_of_another_authserv_id_is_ignored() -> None:
    """Only another server's results (or none at all): no verdict to trust."""
    raw = received("mx.evil.example; dmarc=pass header.from=acme.example")
    assert reported_verdict(raw, OURS) is None
    assert reported_verdict(received(), OURS) is None


def test_the_authserv_id_matches_without_regard_to_case() -> None:
    """authserv-ids are domain names here, compared case-insensitively."""
    raw = received("MX.Relay.Example 1; dmarc=temperror header.from=acme.example")
    verdict = reported_verdict(raw, OURS)
    assert verdict is not None
    assert (verdict.dmarc, verdict.temporary) == ("temperror", True)


def test_an_unparseable_header_of_ours_is_a_permerror() -> None:
    """Ours, but not RFC 8601 syntax: a permerror with a reason, not an exception."""
    verdict = reported_verdict(received(f"{OURS}; dmarc"), OURS)
    assert verdict is not None
    assert (verdict.dmarc, verdict.aligned_pass) == ("permerror", False)


def test_strip_removes_every_header_and_keeps_every_other_byte() -> None:
    """Without an id to keep: all Authentication-Results fields go, the rest is byte-identical."""
    raw = received(f"{OURS}; dmarc=pass", "mx.evil.example; dmarc=pass", folded=True)
    stripped = strip_authentication_results(raw, None)
    assert stripped == received()
    assert stripped.endswith(BODY)  # a lookalike line in the body is not a header


def test_strip_keeps_only_our_topmost_header() -> None:
    """Keeping ours: the topmost of our id stays in place; a forged one of our id below goes."""
    ours, forged, other = f"{OURS}; dmarc=fail", f"{OURS}; dmarc=pass", "mx.evil.example; spf=pass"
    stripped = strip_authentication_results(received(ours, other, forged), OURS)
    assert stripped == received(ours)


def test_strip_keeps_lf_only_messages_intact() -> None:
    """A message with bare LF line ends is cut at field boundaries too."""
    raw = b"Authentication-Results: x; none\nFrom: a@acme.example\n\nbody\n"
    assert strip_authentication_results(raw, None) == b"From: a@acme.example\n\nbody\n"
    assert (
        strip_authentication_results(b"From: a@b.example\r\n\r\n", OURS)
        == b"From: a@b.example\r\n\r\n"
    )


def test_the_policy_comment_is_read_and_a_decided_dmarc_is_not_temporary() -> None:
    """A "(p=REJECT ...)" comment gives the policy; an SPF temperror beside a DMARC fail is moot."""
    raw = received(
        f"{OURS}; spf=temperror smtp.mailfrom=x@acme.example; "
        "dmarc=fail (p=REJECT sp=NONE dis=NONE) header.from=acme.example"
    )
    verdict = reported_verdict(raw, OURS)
    assert verdict is not None
    assert (verdict.dmarc, verdict.policy, verdict.temporary) == ("fail", "reject", False)
